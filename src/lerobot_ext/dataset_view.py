"""A dataset seen through the metadata the plugins' changes left, for upstream's training loop."""

from __future__ import annotations

from typing import Any

import torch


class DatasetWithMetadata(torch.utils.data.Dataset):
    """``dataset`` with ``meta`` replaced; everything else (items, episodes, ...) is the dataset's.

    Items are returned unchanged: the plugins' preprocessor steps apply to every batch in the
    training loop, exactly as they will at inference.
    """

    def __init__(self, dataset: Any, meta: Any) -> None:
        self.dataset = dataset
        self.meta = meta

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: Any) -> Any:
        return self.dataset[index]

    def __getattr__(self, name: str) -> Any:
        # Only reached for names not set in __init__. Guarding on __dict__ keeps unpickling in
        # DataLoader workers (which probes attributes before __dict__ is filled) from recursing.
        if name.startswith("__") or "dataset" not in self.__dict__:
            raise AttributeError(name)
        return getattr(self.__dict__["dataset"], name)
