"""Seam: ``lerobot.scripts.lerobot_eval.make_policy`` (``lerobot-eval-ext`` only).

Upstream's ``make_policy`` replaces a checkpoint's action feature by the environment's. A
checkpoint trained with ``--action_keep_dims=N`` has an N-wide action head and a saved
postprocessor that pads the action back to the robot's width, so the environment's full width
would build the wrong head and the weights would not load. While the checkpoint's own
postprocessor pads to exactly the environment's width, the policy is built with the checkpoint's
action feature instead; every other checkpoint is left to upstream unchanged.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .seam import Seam

PAD_STEP = "lerobot_ext.transforms.steps.ActionPadStep"


def padded_action_width(pretrained_path: str | Path | None) -> int | None:
    """The width a local checkpoint's saved postprocessor pads actions to (None: it does not pad)."""
    if pretrained_path is None:
        return None
    saved = Path(pretrained_path) / "policy_postprocessor.json"
    if not saved.is_file():
        return None  # a Hub id or a checkpoint without saved processors: upstream's behaviour
    with open(saved) as f:
        steps = json.load(f).get("steps", [])
    widths = [s.get("config", {}).get("output_width") for s in steps if s.get("class") == PAD_STEP]
    return widths[0] if widths else None


@contextlib.contextmanager
def _actions_from_checkpoint(saved_actions: dict[str, Any]) -> Iterator[None]:
    factory, original = INNER.resolve()

    def env_to_policy_features(env_cfg: Any) -> dict[str, Any]:
        features = original(env_cfg)
        return {**features, **saved_actions}

    factory.env_to_policy_features = env_to_policy_features
    try:
        yield
    finally:
        factory.env_to_policy_features = original


def make_wrapper(original: Callable[..., Any], run: Any = None) -> Callable[..., Any]:
    signature = inspect.signature(original)

    @functools.wraps(original)
    def make_policy(*args: Any, **kwargs: Any) -> Any:
        from lerobot.configs.types import FeatureType
        from lerobot.envs import env_to_policy_features

        arguments = signature.bind(*args, **kwargs).arguments
        cfg, env_cfg = arguments["cfg"], arguments.get("env_cfg")
        width = padded_action_width(getattr(cfg, "pretrained_path", None))
        if env_cfg is None or arguments.get("ds_meta") is not None or width is None:
            return original(*args, **kwargs)
        env_actions = [ft for ft in env_to_policy_features(env_cfg).values() if ft.type is FeatureType.ACTION]
        if [ft.shape[-1] for ft in env_actions] != [width]:
            return original(*args, **kwargs)  # not the robot it was trained for: upstream decides
        saved = {key: ft for key, ft in cfg.output_features.items() if ft.type is FeatureType.ACTION}
        with _actions_from_checkpoint(saved):
            return original(*args, **kwargs)

    return make_policy


SEAM = Seam("lerobot.scripts.lerobot_eval", "make_policy", ("0.6.1",), make_wrapper)
# Swapped only while the wrapped make_policy builds such a checkpoint's policy.
INNER = Seam("lerobot.policies.factory", "env_to_policy_features", ("0.6.1",), make_wrapper)
