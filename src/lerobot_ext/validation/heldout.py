"""A fixed set of held-out frames, read once and kept as collated batches."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


class HeldOutFrames:
    """``count`` frames of ``dataset`` (a seeded choice, the same every run), collated in batches
    of ``batch_size`` the first time they are needed and kept in memory afterwards."""

    def __init__(self, dataset: Any, frames: int, seed: int, batch_size: int) -> None:
        import numpy as np

        self.dataset = dataset
        total = len(dataset)
        chosen = np.random.default_rng(seed).choice(total, size=min(frames, total), replace=False)
        self.indices = sorted(int(i) for i in chosen)
        self.batch_size = max(1, batch_size)
        self.features: dict[str, Any] = dict(dataset.meta.features)
        self.image_keys: list[str] = list(dataset.meta.camera_keys)
        self.dim_names: list[str] = []
        self._batches: list[dict[str, Any]] | None = None

    @property
    def count(self) -> int:
        return len(self.indices)

    @property
    def episodes(self) -> int:
        episodes = getattr(self.dataset, "episodes", None)
        return len(episodes) if episodes is not None else self.dataset.meta.total_episodes

    def batches(self) -> Iterator[dict[str, Any]]:
        if self._batches is None:
            import torch

            items = [self.dataset[i] for i in self.indices]
            self._batches = [
                torch.utils.data.default_collate(items[start : start + self.batch_size])
                for start in range(0, len(items), self.batch_size)
            ]
        return iter(self._batches)
