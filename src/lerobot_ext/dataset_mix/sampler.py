"""The order a mix's items are drawn in, each dataset at its weight, resumable by position.

Upstream resumes its sampler from the step alone (``compute_sampler_state``): ``len()`` positions
per epoch, each epoch's order a pure function of ``(seed, epoch)``. :class:`WeightedMixSampler`
keeps that contract: an epoch has as many positions as upstream's sampler would (every frame that
may start a sample), of which each dataset gets its weight's share - its own frames in a fresh
order, repeated when its share is larger than the dataset - interleaved at random.
:class:`DrawCounter` counts what each dataset really got, for the log and ``--profile``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch


def frame_positions(starts: np.ndarray, stops: np.ndarray, drop_n_last_frames: int) -> np.ndarray:
    """Every position that may start a sample: each episode's frames but its last ``drop_n_last_frames``."""
    pieces = [
        np.arange(a, b - drop_n_last_frames)
        for a, b in zip(starts, stops, strict=True)
        if b - drop_n_last_frames > a
    ]
    return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)


def shares(weights: Sequence[float], total: int) -> np.ndarray:
    """``total`` positions split by ``weights`` (largest remainders), each share at least one
    (taken from the largest) so that no dataset of the mix is never drawn."""
    w = np.asarray(weights, dtype=np.float64) / float(np.sum(weights))
    exact = w * total
    counts = np.floor(exact).astype(np.int64)
    for index in np.argsort(-(exact - counts), kind="stable")[: total - int(counts.sum())]:
        counts[index] += 1
    if total >= len(counts):
        for index in np.flatnonzero(counts == 0):
            counts[int(np.argmax(counts))] -= 1
            counts[index] = 1
    return counts


def _generator(seed: int, *words: int) -> torch.Generator:
    state = int(np.random.SeedSequence([seed, *words]).generate_state(1, dtype=np.uint64)[0])
    return torch.Generator().manual_seed(state)


class WeightedMixSampler:
    """Draws each dataset's share of every epoch; upstream's sampler contract (see module doc)."""

    def __init__(
        self, positions: Sequence[np.ndarray], weights: Sequence[float], seed: int = 0, shuffle: bool = True
    ) -> None:
        self.positions = [np.asarray(p, dtype=np.int64) for p in positions]
        empty = [i for i, p in enumerate(self.positions) if len(p) == 0]
        if empty:
            raise ValueError(
                f"datasets {empty} have no frame to draw (episodes shorter than drop_n_last_frames)"
            )
        self.seed = seed
        self.shuffle = shuffle
        self.counts = shares(weights, sum(len(p) for p in self.positions))
        self._epoch = 0
        self._start_index = 0

    def __len__(self) -> int:
        return int(self.counts.sum())

    def set_epoch(self, epoch: int) -> None:
        self._epoch = epoch

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self._epoch, "start_index": self._start_index}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self._epoch = state["epoch"]
        self._start_index = state["start_index"]

    def epoch_order(self, epoch: int) -> np.ndarray:
        """Every position of ``epoch``, in the order they are drawn."""
        drawn = []
        for which, (frames, count) in enumerate(zip(self.positions, self.counts, strict=True)):
            rounds = -(-int(count) // len(frames))
            orders = [
                frames[torch.randperm(len(frames), generator=_generator(self.seed, epoch, which, r)).numpy()]
                if self.shuffle
                else frames
                for r in range(rounds)
            ]
            drawn.append(np.concatenate(orders)[: int(count)])
        order = np.concatenate(drawn)
        if self.shuffle:
            order = order[
                torch.randperm(
                    len(order), generator=_generator(self.seed, epoch, len(self.positions))
                ).numpy()
            ]
        return order

    def __iter__(self) -> Iterator[int]:
        # As upstream's: the epoch advances when iteration starts.
        epoch, start = self._epoch, self._start_index
        self._epoch += 1
        self._start_index = 0
        return (int(position) for position in self.epoch_order(epoch)[start:])


class DrawCounter:
    """Upstream's or the weighted sampler, counting the positions it gives each dataset."""

    def __init__(self, sampler: Any, dataset_of: Any, datasets: int) -> None:
        self.sampler = sampler
        self.dataset_of = dataset_of
        self.drawn = np.zeros(datasets, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self) -> Iterator[int]:
        return self._counted(iter(self.sampler))  # the epoch advances now, as upstream's does

    def _counted(self, positions: Iterator[int]) -> Iterator[int]:
        for position in positions:
            self.drawn[self.dataset_of(position)] += 1
            yield position

    def __getattr__(self, name: str) -> Any:
        # set_epoch, state_dict, load_state_dict, seed... are the wrapped sampler's.
        if name.startswith("__") or "sampler" not in self.__dict__:
            raise AttributeError(name)
        return getattr(self.__dict__["sampler"], name)
