"""Seam: ``lerobot.scripts.lerobot_eval.make_policy`` (``lerobot-eval-ext`` only).

Upstream's ``make_policy`` replaces a checkpoint's action feature by the environment's. A
checkpoint trained with ``--action_keep_dims=N`` has an N-wide action head and a saved
postprocessor that pads the action back to the robot's width, so the environment's full width
would build the wrong head and the weights would not load. While the checkpoint's own
postprocessor pads to exactly the environment's width, the policy is built with the checkpoint's
action feature instead; every other checkpoint is left to upstream unchanged.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .seam import Seam, seams_applied

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


def _checkpoint_actions(saved: dict[str, Any], width: int) -> Callable[..., Any]:
    """A make_wrapper for INNER: the env's features, with its action replaced by ``saved``."""

    def make_inner(original: Callable[..., Any], run: Any) -> Callable[..., Any]:
        @functools.wraps(original)
        def env_to_policy_features(env_cfg: Any) -> dict[str, Any]:
            from lerobot.configs.types import FeatureType

            features = original(env_cfg)
            actions = [ft.shape[-1] for ft in features.values() if ft.type is FeatureType.ACTION]
            if actions != [width]:
                return features  # not the robot the checkpoint pads for: upstream decides
            return {**features, **saved}

        return env_to_policy_features

    return make_inner


def make_wrapper(original: Callable[..., Any], run: Any = None) -> Callable[..., Any]:
    signature = inspect.signature(original)

    @functools.wraps(original)
    def make_policy(*args: Any, **kwargs: Any) -> Any:
        from lerobot.configs.types import FeatureType

        arguments = signature.bind(*args, **kwargs).arguments
        cfg = arguments["cfg"]
        width = padded_action_width(getattr(cfg, "pretrained_path", None))
        if arguments.get("env_cfg") is None or arguments.get("ds_meta") is not None or width is None:
            return original(*args, **kwargs)
        saved = {key: ft for key, ft in cfg.output_features.items() if ft.type is FeatureType.ACTION}
        inner = dataclasses.replace(INNER, make_wrapper=_checkpoint_actions(saved, width))
        with seams_applied([inner], run=None):
            return original(*args, **kwargs)

    return make_policy


SEAM = Seam(
    "lerobot.scripts.lerobot_eval", "make_policy", make_wrapper, parameters=("cfg", "env_cfg", "ds_meta")
)
# Wrapped only while the make_policy above builds a checkpoint whose postprocessor pads actions.
INNER = Seam("lerobot.policies.factory", "env_to_policy_features", _checkpoint_actions({}, 0))
