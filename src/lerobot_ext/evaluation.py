"""One ``lerobot-eval-ext`` run: what the eval seams share while upstream's ``lerobot-eval`` runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lerobot_ext.checkpoint_loading import FolderOverrides
from lerobot_ext.context import RunContext
from lerobot_ext.dataset_changes import SavedCheckpoint
from lerobot_ext.dispatch import Hooks


class EvaluationRun:
    """The loaded plugins' hooks and the command's context, for the eval seams."""

    def __init__(self, context: RunContext, hooks: Hooks) -> None:
        self.context = context
        self.hooks = hooks
        self.undo_instance_seams: list[Callable[[], None]] = []
        #: The ``checkpoint_loading`` changes for the folder the policy is evaluated from.
        self.load_overrides = FolderOverrides(hooks, context)

    def env_policy_features(
        self, policy_cfg: Any, env_features: dict[str, Any], checkpoint: SavedCheckpoint | None
    ) -> dict[str, Any] | None:
        """The first plugin answer to ``env_policy_features`` (``None``: upstream's features)."""
        answer = self.hooks.first(
            "env_policy_features",
            policy_cfg=policy_cfg,
            env_features=env_features,
            checkpoint=checkpoint,
            run=self.context,
        )
        return answer[1] if answer is not None else None
