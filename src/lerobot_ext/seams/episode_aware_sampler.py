"""Seam: ``lerobot.scripts.lerobot_train.EpisodeAwareSampler`` - the training dataloader's sampler.

Upstream builds it once per run for a map-style dataset, then - resuming - positions it with
``compute_sampler_state(step, len(sampler), ...)`` and ``load_state_dict``: the ``make_sampler``
hook may give a sampler of its own there, which upstream resumes the same way.

Supported lerobot versions: 0.6.1, 0.6.2 (both build it by keyword: from/to indices,
``episode_indices_to_use``, ``drop_n_last_frames``, ``shuffle``, ``seed``,
``absolute_to_relative_idx``).
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
    def EpisodeAwareSampler(*args: Any, **kwargs: Any) -> Any:
        arguments = dict(signature.bind(*args, **kwargs).arguments)
        sampler = run.make_sampler(arguments)
        return original(*args, **kwargs) if sampler is None else sampler

    return EpisodeAwareSampler


SEAM = Seam(
    "lerobot.scripts.lerobot_train",
    "EpisodeAwareSampler",
    make_wrapper,
    parameters=(
        "dataset_from_indices",
        "dataset_to_indices",
        "episode_indices_to_use",
        "drop_n_last_frames",
        "shuffle",
        "seed",
    ),
    why="the make_sampler hook: a plugin's sampler where upstream builds its own (resumed by position)",
)
