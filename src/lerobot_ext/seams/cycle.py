"""Seam: ``lerobot.scripts.lerobot_train.cycle`` - the training dataloader's endless iterator.

Upstream calls it once, right before the first step: that is ``on_train_start``. Its first
``next()`` creates the data iterator and fetches the first batch: then ``first_batch_ready``.
With phase timing on, each ``next()`` on it is the step's DataLoader wait; without, upstream's
own iterator serves every batch after the first.

Right before that first ``next()``, ``before_first_batch`` gets the dataloader (a plugin may
position a resumed run's dataloader there; the core leaves it as upstream made it).

Supported lerobot versions: 0.6.1, 0.6.2 (both call ``cycle(dataloader)`` on the prepared
dataloader, with the sampler positioned for a resume).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

from lerobot_ext.step_timing import Mark, StepClock
from lerobot_ext.training import TrainingRun

from .seam import Seam


def _timed(iterator: Iterator[Any], clock: StepClock, run: TrainingRun) -> Iterator[Any]:
    first = True
    while True:
        clock.start_step()
        item = next(iterator)
        clock.mark(Mark.DATA_END)
        if first:
            run.first_batch_fetched()
            first = False
        yield item


def _first_batch_then(iterator: Iterator[Any], run: TrainingRun) -> Iterator[Any]:
    item = next(iterator)
    run.first_batch_fetched()
    yield item
    yield from iterator  # upstream's own iterator from here on, nothing added per step


def make_wrapper(original: Callable[..., Any], run: TrainingRun) -> Callable[..., Any]:
    @functools.wraps(original)
    def cycle(iterable: Any) -> Any:
        iterator = original(iterable)
        run.train_started()
        run.before_first_batch(iterable)
        return _first_batch_then(iterator, run) if run.clock is None else _timed(iterator, run.clock, run)

    return cycle


SEAM = Seam(
    "lerobot.scripts.lerobot_train",
    "cycle",
    make_wrapper,
    parameters=("iterable",),
    why="on_train_start, before_first_batch and first_batch_ready around the first batch, and the "
    "per-step data wait when step_phase_timing asks for it",
)
