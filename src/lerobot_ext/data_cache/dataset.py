"""Training items read from a data cache, the same items upstream's ``LeRobotDataset`` gives.

An item is made as lerobot 0.6 makes one - the frame's parquet columns, the ``delta_timestamps``
windows clamped to the episode with their ``<key>_is_pad`` masks, the camera frames of those
windows converted as the decoder converts them (uint8 -> float32 / 255; depth dequantised with
lerobot's own function), the image transforms, and the task string - but from memory-mapped
arrays instead of Arrow row lookups and video decoding. Bit-identical items are a tested promise
(``tests/test_data_cache.py``) and a start-of-training spot check (``spot_check``).

Everything about which frames and cameras to serve comes from the upstream dataset it wraps
(episodes, ``reader.delta_indices``, ``meta.video_keys``, ``image_transforms``), so
``--dataset.episodes``, ``--camera_keys`` and image augmentation hold as without the cache.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lerobot_ext.data_cache.errors import StaleCacheError
from lerobot_ext.data_cache.manifest import Manifest


class CachedDataset(torch.utils.data.Dataset):
    """The items of ``dataset`` (upstream's ``LeRobotDataset``), read from the cache in ``folder``."""

    def __init__(
        self, dataset: Any, folder: Path, manifest: Manifest, return_uint8: bool, depth_output_unit: str
    ) -> None:
        from lerobot.configs.video import DepthEncoderConfig

        meta = dataset.meta
        self.dataset = dataset
        self.folder = Path(folder)
        self.manifest = manifest
        self.return_uint8 = return_uint8
        self.depth_output_unit = depth_output_unit
        self.columns = list(dataset.hf_dataset.column_names)
        self.video_keys = list(meta.video_keys)
        self.camera_keys = list(meta.camera_keys)
        self.depth_keys = set(meta.depth_keys)
        self.depth_configs = {
            key: DepthEncoderConfig.from_video_info(meta.features[key].get("info"))
            for key in self.video_keys
            if key in self.depth_keys
        }
        self.image_depth_units = {
            key: (meta.features[key].get("info") or {}).get("depth_unit")
            for key in self.depth_keys
            if key in meta.image_keys
        }
        self.delta_indices = {
            key: np.asarray(deltas, dtype=np.int64)
            for key, deltas in (dataset.reader.delta_indices or {}).items()
        }
        # Row i of the (possibly episode-filtered) dataset is absolute frame absolute[i].
        self.absolute = dataset.hf_dataset.data.column("index").to_numpy()
        episodes = meta.episodes
        count = int(meta.total_episodes)
        self.episode_start = np.asarray([int(episodes[e]["dataset_from_index"]) for e in range(count)])
        self.episode_stop = np.asarray([int(episodes[e]["dataset_to_index"]) for e in range(count)])
        self.task_names = list(meta.tasks.index)
        missing = [key for key in (*self.columns, *self.video_keys) if key not in manifest.arrays]
        if missing:
            raise StaleCacheError(
                f"the data cache at {folder} has no {missing}; rebuild it (`lerobot-ext cache build`)"
            )
        self._arrays: dict[str, np.ndarray] | None = None
        self._pid: int | None = None
        # The files checked at the start of the run: a worker started later (every epoch without
        # --persistent_workers) must map these, not a cache rebuilt in their place since.
        self._identity = self._file_identity()

    def _file_identity(self) -> dict[str, tuple[int, int]]:
        identity = {}
        for name, spec in self.manifest.arrays.items():
            if name in (*self.columns, *self.video_keys):
                try:
                    stat = (self.folder / spec.file).stat()
                except FileNotFoundError:
                    continue  # refused where it is opened
                identity[name] = (stat.st_dev, stat.st_ino)
        return identity

    # Opened lazily and per process: a DataLoader worker maps the files itself.
    def _open(self) -> dict[str, np.ndarray]:
        if self._arrays is None or self._pid != os.getpid():
            if self._file_identity() != self._identity:
                raise StaleCacheError(
                    f"the data cache at {self.folder} was replaced while this run used it (another "
                    "`lerobot-ext cache build --overwrite`?); it is not served mid-run - restart the run "
                    "(with --auto_resume=true to continue it) so the new cache is checked first"
                )
            needed = {*self.columns, *self.video_keys}
            self._arrays = {
                name: np.load(self.folder / spec.file, mmap_mode="r")
                for name, spec in self.manifest.arrays.items()
                if name in needed
            }
            self._pid = os.getpid()
        return self._arrays

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_arrays": None, "_pid": None}

    def __len__(self) -> int:
        return len(self.absolute)

    def __getattr__(self, name: str) -> Any:
        # Everything else (meta, episodes, hf_dataset, ...) is the upstream dataset's. Guarding on
        # __dict__ keeps unpickling in DataLoader workers from recursing.
        if name.startswith("__") or "dataset" not in self.__dict__:
            raise AttributeError(name)
        return getattr(self.__dict__["dataset"], name)

    def _frames(self, key: str, rows: np.ndarray) -> torch.Tensor:
        frames = torch.from_numpy(np.ascontiguousarray(self._open()[key][rows]))
        if key in self.depth_keys:
            from lerobot.datasets.depth_utils import dequantize_depth

            config = self.depth_configs[key]
            frames = dequantize_depth(
                frames,
                depth_min=config.depth_min,
                depth_max=config.depth_max,
                shift=config.shift,
                use_log=config.use_log,
                output_unit=self.depth_output_unit,
            )
        elif not self.return_uint8:
            frames = frames.type(torch.float32) / 255
        return frames.squeeze(0)

    def __getitem__(self, index: int) -> dict[str, Any]:
        arrays = self._open()
        absolute = int(self.absolute[index])
        episode = int(arrays["episode_index"][absolute])
        start, stop = self.episode_start[episode], self.episode_stop[episode]
        item: dict[str, Any] = {
            name: torch.from_numpy(np.array(arrays[name][absolute])) for name in self.columns
        }
        rows: dict[str, np.ndarray] = {}
        for key, deltas in self.delta_indices.items():
            wanted = absolute + deltas
            rows[key] = np.clip(wanted, start, stop - 1)
            item[f"{key}_is_pad"] = torch.from_numpy((wanted < start) | (wanted >= stop))
            if key not in self.video_keys:
                item[key] = torch.from_numpy(arrays[key][rows[key]])
        for key in self.video_keys:
            item[key] = self._frames(key, rows.get(key, np.asarray([absolute])))
        transforms = self.dataset.image_transforms
        if transforms is not None:
            for key in self.camera_keys:
                if key not in self.depth_keys:
                    item[key] = transforms(item[key])
        if self.image_depth_units:
            from lerobot.configs import DEPTH_METER_UNIT
            from lerobot.datasets.depth_utils import MM_PER_METRE

            for key, stored in self.image_depth_units.items():
                if key in item and stored is not None and stored != self.depth_output_unit:
                    item[key] = (
                        item[key] * MM_PER_METRE if stored == DEPTH_METER_UNIT else item[key] / MM_PER_METRE
                    )
        item["task"] = self.task_names[int(item["task_index"])]
        return item


def compare_items(expected: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """What differs between two items: keys, types, dtypes, shapes, values (empty: identical)."""
    problems = []
    if set(expected) != set(got):
        problems.append(
            f"keys differ: missing {sorted(set(expected) - set(got))}, extra {sorted(set(got) - set(expected))}"
        )
    for key in sorted(set(expected) & set(got)):
        a, b = expected[key], got[key]
        if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
            if a.dtype != b.dtype or a.shape != b.shape:
                problems.append(f"{key}: {a.dtype}{list(a.shape)} != {b.dtype}{list(b.shape)}")
            elif not torch.equal(a, b):
                problems.append(
                    f"{key}: values differ (max |diff| {float((a.double() - b.double()).abs().max()):.3g})"
                )
        elif type(a) is not type(b) or a != b:
            problems.append(f"{key}: {a!r} != {b!r}")
    return problems
