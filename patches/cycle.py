"""Seam: ``lerobot.scripts.lerobot_train.cycle`` - the training dataloader's endless iterator.

Upstream calls it once, right before the first step: that is ``on_train_start``. With phase
timing on, each ``next()`` on it is the step's DataLoader wait; without, upstream's own
iterator is returned untouched.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from lerobot_ext.step_timing import Mark

from .seam import Seam

if TYPE_CHECKING:
    from lerobot_ext.step_timing import StepClock
    from lerobot_ext.training import TrainingRun


def _timed(iterator: Iterator[Any], clock: StepClock) -> Iterator[Any]:
    while True:
        clock.start_step()
        item = next(iterator)
        clock.mark(Mark.DATA_END)
        yield item


def make_wrapper(original: Callable[..., Any], run: TrainingRun) -> Callable[..., Any]:
    @functools.wraps(original)
    def cycle(*args: Any, **kwargs: Any) -> Any:
        iterator = original(*args, **kwargs)
        run.train_started()
        return iterator if run.clock is None else _timed(iterator, run.clock)

    return cycle


SEAM = Seam("lerobot.scripts.lerobot_train", "cycle", make_wrapper)
