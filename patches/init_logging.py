"""Seam: ``lerobot.scripts.lerobot_train.init_logging``.

Upstream calls it right after creating the ``Accelerator`` and passes it in: the first point
where the run's rank and world size are known. We hand the accelerator to the run, which
wraps a few of its methods (see ``patches.accelerator``).

Supported lerobot versions: 0.6.1, 0.6.2 (both call it as ``init_logging(accelerator=...)``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .accelerator import instrument_accelerator
from .seam import Seam

if TYPE_CHECKING:
    from lerobot_ext.training import TrainingRun


def make_wrapper(original: Callable[..., Any], run: TrainingRun) -> Callable[..., Any]:
    @functools.wraps(original)
    def init_logging(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        accelerator = kwargs.get("accelerator")
        if accelerator is not None and run.accelerator is None:
            run.attach_accelerator(accelerator)
            instrument_accelerator(accelerator, run)
        return result

    return init_logging


SEAM = Seam(
    "lerobot.scripts.lerobot_train",
    "init_logging",
    make_wrapper,
    parameters=("accelerator",),
    why="the run learns its rank and world size from upstream's Accelerator, and wraps a few of its methods",
)
