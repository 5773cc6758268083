"""Seam: ``lerobot.scripts.lerobot_eval.make_pre_post_processors`` (``lerobot-eval-ext`` only).

``lerobot-eval`` loads the evaluated checkpoint's saved processors from its folder; the plugins'
``checkpoint_loading`` step overrides for that folder (e.g. a self-contained VLA checkpoint's
tokenizer, named relative to the folder) join upstream's own overrides here.

Supported lerobot versions: 0.6.1, 0.6.2 (``make_pre_post_processors(policy_cfg=...,
pretrained_path=..., preprocessor_overrides=...)`` on both).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from lerobot_ext.checkpoint_loading import with_folder_overrides
from lerobot_ext.evaluation import EvaluationRun

from .seam import Seam


def make_wrapper(original: Callable[..., Any], run: EvaluationRun) -> Callable[..., Any]:
    signature = inspect.signature(original)

    @functools.wraps(original)
    def make_pre_post_processors(*args: Any, **kwargs: Any) -> Any:
        return original(*args, **with_folder_overrides(signature, args, kwargs, run.load_overrides))

    return make_pre_post_processors


SEAM = Seam(
    "lerobot.scripts.lerobot_eval",
    "make_pre_post_processors",
    make_wrapper,
    parameters=("policy_cfg", "pretrained_path"),
    why="lerobot-eval-ext: the plugins' checkpoint_loading step overrides for the evaluated checkpoint's processors",
)
