"""Seam: ``lerobot.scripts.lerobot_eval.make_policy`` (``lerobot-eval-ext`` only).

Upstream's ``make_policy`` builds a checkpoint's policy with the environment's features
(``lerobot.policies.factory.env_to_policy_features``), action included. A plugin whose saved
steps change the policy's action (``--action_keep_dims``: an N-wide head padded back to the
robot's width) says through ``env_policy_features`` what the policy really has; while it builds
such a checkpoint, ``env_to_policy_features`` is wrapped to return that. Every other checkpoint
is left to upstream unchanged. Before any checkpoint is built, the plugins' ``checkpoint_loading``
policy changes are applied to its config.

Supported lerobot versions: 0.6.1, 0.6.2 (the same two names and arguments on both).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from typing import Any

from lerobot_ext.dataset_changes import SavedCheckpoint
from lerobot_ext.evaluation import EvaluationRun
from lerobot_ext.load_overrides import apply_to_policy_config

from .seam import Seam, seams_applied


def _with_features(features_for: Callable[[dict[str, Any]], dict[str, Any] | None]) -> Callable[..., Any]:
    """A make_wrapper for INNER: the env's features, as the plugins would have them."""

    def make_inner(original: Callable[..., Any], run: Any) -> Callable[..., Any]:
        @functools.wraps(original)
        def env_to_policy_features(env_cfg: Any) -> dict[str, Any]:
            features = original(env_cfg)
            changed = features_for(features)
            return features if changed is None else changed

        return env_to_policy_features

    return make_inner


def make_wrapper(original: Callable[..., Any], run: EvaluationRun) -> Callable[..., Any]:
    signature = inspect.signature(original)

    @functools.wraps(original)
    def make_policy(*args: Any, **kwargs: Any) -> Any:
        arguments = signature.bind(*args, **kwargs).arguments
        cfg = arguments["cfg"]
        if getattr(cfg, "pretrained_path", None):
            apply_to_policy_config(cfg, run.load_overrides(cfg, cfg.pretrained_path))
        if arguments.get("env_cfg") is None or arguments.get("ds_meta") is not None:
            return original(*args, **kwargs)
        checkpoint = SavedCheckpoint.read(getattr(cfg, "pretrained_path", None))

        def features_for(env_features: dict[str, Any]) -> dict[str, Any] | None:
            return run.env_policy_features(cfg, env_features, checkpoint)

        inner = dataclasses.replace(INNER, make_wrapper=_with_features(features_for))
        with seams_applied([inner], run=None):
            return original(*args, **kwargs)

    return make_policy


SEAM = Seam(
    "lerobot.scripts.lerobot_eval",
    "make_policy",
    make_wrapper,
    parameters=("cfg", "env_cfg", "ds_meta"),
    why="lerobot-eval-ext builds a checkpoint whose saved steps change its action width for the full-width env",
)
# Wrapped only while the make_policy above builds a checkpoint for an environment.
INNER = Seam(
    "lerobot.policies.factory",
    "env_to_policy_features",
    _with_features(lambda features: None),
    parameters=("env_cfg",),
    why="lerobot-eval-ext: the env's features as the checkpoint's saved steps change them (env_policy_features)",
)
