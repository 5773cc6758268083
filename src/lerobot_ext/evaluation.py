"""One ``lerobot-eval-ext`` run: upstream's ``lerobot-eval`` with the eval seams and the plugins."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lerobot_ext.errors import PluginHookError
from lerobot_ext.plugins import PluginHost, call_each

if TYPE_CHECKING:
    from lerobot_ext.dataset_changes import SavedCheckpoint


class EvaluationRun:
    """What the eval seams share: the loaded plugins."""

    def __init__(self, host: PluginHost) -> None:
        self.host = host
        self.undo_instance_seams: list[Callable[[], None]] = []

    def env_policy_features(
        self, policy_cfg: Any, env_features: dict[str, Any], checkpoint: SavedCheckpoint | None
    ) -> dict[str, Any] | None:
        """The first plugin answer to ``env_policy_features`` (``None``: upstream's features)."""
        for plugin, result in call_each(
            self.host,
            "env_policy_features",
            policy_cfg=policy_cfg,
            env_features=env_features,
            checkpoint=checkpoint,
        ):
            if result is None:
                continue
            if not isinstance(result, dict):
                raise PluginHookError(
                    f"plugin '{plugin}' returned {type(result).__name__} from env_policy_features; "
                    "expected a dict of features or None"
                )
            return result
        return None


def run_evaluation(host: PluginHost) -> None:
    """Run upstream's ``lerobot-eval`` main with the eval seams in place."""
    from lerobot.scripts import lerobot_eval

    from lerobot_ext.patches import EVAL_SEAMS, seams_applied

    with seams_applied(EVAL_SEAMS, EvaluationRun(host)):  # type: ignore[arg-type]
        lerobot_eval.main()
