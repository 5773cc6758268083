"""Seam: ``lerobot.scripts.lerobot_train.make_pre_post_processors``.

When the processors are loaded from a saved folder, the plugins' ``checkpoint_loading`` step
overrides join upstream's. The plugins' processor steps (from ``transform_dataset``) join the pipelines here, so the checkpoint's saved
``policy_preprocessor.json``/``policy_postprocessor.json`` apply them at inference too. With
phase timing on, the preprocessor's device step is timed through the pipeline's own
before/after-step hooks (runtime only; they are not saved).

Supported lerobot versions: 0.6.1, 0.6.2 (returns ``(preprocessor, postprocessor)`` on both).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from lerobot_ext.checkpoint_loading import with_folder_overrides
from lerobot_ext.step_timing import Mark
from lerobot_ext.training import TrainingRun

from .seam import Seam


def _time_device_step(preprocessor: Any, run: TrainingRun) -> None:
    from lerobot.processor import DeviceProcessorStep

    clock = run.clock
    indices = [i for i, step in enumerate(preprocessor.steps) if isinstance(step, DeviceProcessorStep)]
    if clock is None or not indices:
        return
    device_index = indices[0]

    def before(index: int, _transition: Any) -> None:
        if index == device_index:
            clock.mark(Mark.H2D_START)

    def after(index: int, _transition: Any) -> None:
        if index == device_index:
            clock.mark(Mark.H2D_END)

    preprocessor.register_before_step_hook(before)
    preprocessor.register_after_step_hook(after)


def make_wrapper(original: Callable[..., Any], run: TrainingRun) -> Callable[..., Any]:
    signature = inspect.signature(original)

    @functools.wraps(original)
    def make_pre_post_processors(*args: Any, **kwargs: Any) -> Any:
        kwargs = with_folder_overrides(signature, args, kwargs, run.load_overrides)
        preprocessor, postprocessor = original(*args, **kwargs)
        preprocessor, postprocessor = run.processors_made(preprocessor, postprocessor)
        _time_device_step(preprocessor, run)
        return preprocessor, postprocessor

    return make_pre_post_processors


SEAM = Seam(
    "lerobot.scripts.lerobot_train",
    "make_pre_post_processors",
    make_wrapper,
    parameters=("policy_cfg", "pretrained_path"),
    why="checkpoint_loading step overrides for a saved folder; the plugins' processor steps join the pipelines saved with each checkpoint; the h2d_copy phase boundary of step phase timing",
)
