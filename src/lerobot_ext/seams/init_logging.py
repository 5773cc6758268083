"""Seam: ``lerobot.scripts.lerobot_train.init_logging``.

Upstream calls it right after creating the ``Accelerator`` and passes it in: the first point
where the run's rank and world size are known. We hand the accelerator to the run, which
wraps a few of its methods (see ``patches.accelerator``).

Supported lerobot versions: 0.6.1, 0.6.2 (both pass it the ``accelerator``; read by binding the
call to the signature, so by name or by position).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from lerobot_ext.training import TrainingRun

from .accelerator import instrument_accelerator
from .seam import Seam


def make_wrapper(original: Callable[..., Any], run: TrainingRun) -> Callable[..., Any]:
    signature = inspect.signature(original)

    @functools.wraps(original)
    def init_logging(*args: Any, **kwargs: Any) -> Any:
        # Bound, not read from kwargs: a positional accelerator counts the same.
        accelerator = signature.bind(*args, **kwargs).arguments.get("accelerator")
        result = original(*args, **kwargs)
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
