"""Seam: ``lerobot.scripts.lerobot_train.make_train_eval_datasets``.

The ``datasets made`` event: plugins choose a robot adapter, change the dataset's features and
stats (``transform_dataset``), check a checkpoint against that (``check_checkpoint``) and change
how items are produced (``wrap_dataset``) - before upstream builds the policy and the processors.

Supported lerobot versions: 0.6.1, 0.6.2 (returns ``(dataset, eval_dataset)`` on both).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from lerobot_ext.training import TrainingRun

from .seam import Seam


def make_wrapper(original: Callable[..., Any], run: TrainingRun) -> Callable[..., Any]:
    @functools.wraps(original)
    def make_train_eval_datasets(*args: Any, **kwargs: Any) -> Any:
        dataset, eval_dataset = original(*args, **kwargs)
        return run.datasets_made(dataset, eval_dataset)

    return make_train_eval_datasets


SEAM = Seam(
    "lerobot.scripts.lerobot_train",
    "make_train_eval_datasets",
    make_wrapper,
    why="the dataset hooks: robot adapter, transform_dataset (features and stats), check_checkpoint, wrap_dataset",
)
