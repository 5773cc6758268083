"""Seam: ``lerobot.scripts.lerobot_train.should_save_checkpoint``.

Called by every process at every step; a ``True`` (with ``save_checkpoint`` on) tells the run
that the next barrier completes a checkpoint, so ``on_checkpoint_saved`` can fire in every
process, not only in the main process that writes it. When the processes agreed to stop after
this step (``request_stop``), it answers ``True``: the step is checkpointed, then the run stops.

Supported lerobot versions: 0.6.1, 0.6.2 (both call it with ``step`` at every step, in every process).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from lerobot_ext.training import TrainingRun

from .seam import Seam


def make_wrapper(original: Callable[..., Any], run: TrainingRun) -> Callable[..., Any]:
    signature = inspect.signature(original)

    @functools.wraps(original)
    def should_save_checkpoint(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if run.stop_reason is not None:
            if not run.cfg.save_checkpoint:
                run.stop_now()  # nothing to save: stop after the step
            result = True  # a stop asked for after this step: save it first
        if result and run.cfg.save_checkpoint:
            run.pending_checkpoint = int(signature.bind(*args, **kwargs).arguments["step"])
        return result

    return should_save_checkpoint


SEAM = Seam(
    "lerobot.scripts.lerobot_train",
    "should_save_checkpoint",
    make_wrapper,
    parameters=("step",),
    why="on_checkpoint_saved in every process, and the checkpoint of a step a plugin stops after (request_stop)",
)
