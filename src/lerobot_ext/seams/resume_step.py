"""Seam: the step a resumed run starts at.

lerobot 0.6.1 loads the whole training state in ``lerobot.scripts.lerobot_train.load_training_state``
and returns ``(step, optimizer, scheduler)``; from 0.6.2 (upstream #4010) resuming is split around
``accelerator.prepare`` and ``lerobot.scripts.lerobot_train.resume_before_prepare`` returns the step
(with the RNG state restored). One role, two upstream names: :data:`SEAM` picks the installed one.

Supported lerobot versions: 0.6.1 (``load_training_state``), 0.6.2 (``resume_before_prepare``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from lerobot_ext.training import TrainingRun

from .seam import Seam, SeamTable


def _wrapper(
    step_of: Callable[[Any], int],
) -> Callable[[Callable[..., Any], TrainingRun], Callable[..., Any]]:
    def make_wrapper(original: Callable[..., Any], run: TrainingRun) -> Callable[..., Any]:
        @functools.wraps(original)
        def resume(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            run.start_step = int(step_of(result))
            return result

        return resume

    return make_wrapper


SEAM = SeamTable(
    "resume step",
    {
        "0.6.1": Seam(
            "lerobot.scripts.lerobot_train",
            "load_training_state",
            _wrapper(lambda result: result[0]),
            versions=("0.6.1",),
            why="the step a resumed run starts at (on_train_start's start_step)",
        ),
        "0.6.2": Seam(
            "lerobot.scripts.lerobot_train",
            "resume_before_prepare",
            _wrapper(int),
            versions=("0.6.2",),
            why="the step a resumed run starts at (on_train_start's start_step)",
        ),
    },
)
