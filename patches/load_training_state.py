"""Seam: ``lerobot.scripts.lerobot_train.load_training_state`` - the step a resumed run starts at."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .seam import Seam

if TYPE_CHECKING:
    from lerobot_ext.training import TrainingRun


def make_wrapper(original: Callable[..., Any], run: TrainingRun) -> Callable[..., Any]:
    @functools.wraps(original)
    def load_training_state(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        run.start_step = int(result[0])
        return result

    return load_training_state


SEAM = Seam("lerobot.scripts.lerobot_train", "load_training_state", ("0.6.1",), make_wrapper)
