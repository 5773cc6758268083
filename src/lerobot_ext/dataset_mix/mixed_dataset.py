"""Several datasets as one training dataset: each item from its own dataset, whole.

Upstream builds the sampler from ``meta.episodes``' frame ranges; the mix's ranges are each
dataset's episodes, placed one dataset after the other. An item is read from the dataset that
holds it, so its time window (``delta_timestamps``) is padded at its own episode's ends and never
reaches into another dataset.
"""

from __future__ import annotations

import bisect
import copy
import dataclasses
import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch


def episode_ranges(dataset: Any) -> tuple[np.ndarray, np.ndarray, list[list[str]]]:
    """``(start, stop)`` of each episode ``dataset`` holds, as positions in ``dataset`` itself, and
    each one's tasks."""
    meta = dataset.meta
    starts = np.asarray(meta.episodes["dataset_from_index"], dtype=np.int64)
    stops = np.asarray(meta.episodes["dataset_to_index"], dtype=np.int64)
    chosen = dataset.episodes if dataset.episodes is not None else range(len(starts))
    chosen = np.asarray(list(chosen), dtype=np.int64)
    mapping = dataset.absolute_to_relative_idx
    first = starts[chosen]
    if mapping is not None:
        first = np.asarray([mapping[int(index)] for index in first], dtype=np.int64)
    all_tasks = meta.episodes["tasks"]
    tasks = [list(all_tasks[int(e)] or []) for e in chosen]
    return first, first + (stops[chosen] - starts[chosen]), tasks


def mix_metadata(primary_meta: Any, starts: np.ndarray, stops: np.ndarray, tasks: list[list[str]]) -> Any:
    """A copy of the primary's metadata (upstream's class: its features, fps, cameras) whose
    episodes are every dataset's, as positions in the mix (the columns upstream and the plugins
    read: frame ranges, lengths, tasks)."""
    meta = copy.copy(primary_meta)
    meta.episodes = {
        "episode_index": list(range(len(starts))),
        "dataset_from_index": starts.tolist(),
        "dataset_to_index": stops.tolist(),
        "length": (stops - starts).tolist(),
        "tasks": tasks,
    }
    meta.info = dataclasses.replace(
        primary_meta.info, total_frames=int(stops[-1]), total_episodes=len(starts)
    )
    return meta


class MixedDataset(torch.utils.data.Dataset):
    """``datasets`` one after the other; item ``i`` is read from the dataset that holds it and,
    where that dataset is stored in another layout, rebuilt in the first one's (``layouts``)."""

    def __init__(
        self,
        datasets: Sequence[Any],
        labels: Sequence[str],
        layouts: Sequence[Callable[[dict[str, Any]], dict[str, Any]] | None],
    ) -> None:
        self.datasets = list(datasets)
        self.labels = list(labels)
        self.layouts = list(layouts)
        #: Where each dataset starts in the mix, and its end: plain ints, searched per item.
        self.offsets = list(itertools.accumulate((len(d) for d in self.datasets), initial=0))
        ranges = [episode_ranges(d) for d in self.datasets]
        starts = np.concatenate([r[0] + offset for r, offset in zip(ranges, self.offsets, strict=False)])
        stops = np.concatenate([r[1] + offset for r, offset in zip(ranges, self.offsets, strict=False)])
        tasks = [task for r in ranges for task in r[2]]
        #: The number of episodes of each dataset, in order.
        self.episode_counts = [len(r[0]) for r in ranges]
        self.meta = mix_metadata(self.datasets[0].meta, starts, stops, tasks)
        # What upstream reads of a dataset: the ranges above already are positions in the mix.
        self.episodes = None
        self.absolute_to_relative_idx = None

    def __len__(self) -> int:
        return self.offsets[-1]

    @property
    def num_frames(self) -> int:
        return len(self)

    @property
    def num_episodes(self) -> int:
        return sum(self.episode_counts)

    def dataset_of(self, index: int) -> int:
        """Which dataset (0: the primary) holds position ``index``. Called for every item read and
        every position drawn: a binary search over a short list, not a numpy call per position."""
        return bisect.bisect_right(self.offsets, int(index)) - 1

    def __getitem__(self, index: int) -> dict[str, Any]:
        which = self.dataset_of(index)
        item = self.datasets[which][int(index - self.offsets[which])]
        layout = self.layouts[which]
        return layout(item) if layout is not None else item
