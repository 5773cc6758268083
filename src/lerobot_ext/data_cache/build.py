"""``lerobot-ext cache build``: decode every camera of a dataset once, through lerobot's own
decoder with the backend training will use, into uint8 frame arrays (raw uint16 for depth).

The build writes into ``<cache_dir>.partial-<pid>/`` and renames it to ``<cache_dir>`` only
after the manifest (written last) is on disk, so an interrupted build never leaves a folder that
looks like a cache. It estimates the size first and refuses when the disk cannot hold it.
"""

from __future__ import annotations

import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lerobot_ext.console import get_logger
from lerobot_ext.data_cache.manifest import MANIFEST, ArraySpec, Manifest, decoder_versions, fingerprint
from lerobot_ext.errors import DataCacheError

log = get_logger("data_cache")

FRAMES_PER_TASK = 64
# Below this many frames, starting worker processes costs more than it saves.
PARALLEL_FROM_FRAMES = 2000
# Room to leave on the disk beyond the cache itself.
DISK_MARGIN = 1.02


@dataclass(frozen=True)
class DecodeTask:
    """Decode ``timestamps`` of one video into rows ``start...`` of one frame array."""

    video_path: str
    timestamps: tuple[float, ...]
    tolerance_s: float
    backend: str
    is_depth: bool
    array_file: str
    start: int


def run_task(task: DecodeTask) -> int:
    """Decode one task with lerobot's decoder and write its rows (runs in a worker process)."""
    from lerobot.datasets.video_utils import decode_video_frames

    frames = decode_video_frames(
        task.video_path,
        list(task.timestamps),
        task.tolerance_s,
        task.backend,
        return_uint8=not task.is_depth,
        is_depth=task.is_depth,
    )
    array = np.load(task.array_file, mmap_mode="r+")
    array[task.start : task.start + len(task.timestamps)] = frames.numpy()
    array.flush()
    return len(task.timestamps)


def _free_bytes(folder: Path) -> int:
    probe = folder
    while not probe.exists():
        probe = probe.parent
    return shutil.disk_usage(probe).free


def _gb(n: float) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"


def _column_batches(dataset: Any, batch: int = 4096):
    """``(absolute indices, {column: values})`` batches of every parquet column, converted by
    lerobot's own transform (so the cache holds exactly what an item would)."""
    hf = dataset.hf_dataset
    index = hf.data.column("index").to_numpy()
    for start in range(0, len(hf), batch):
        rows = hf[start : start + batch]
        values = {}
        for name, column in rows.items():
            if column and isinstance(column[0], str):
                raise DataCacheError(
                    f"column {name!r} holds text; the data cache stores numbers and frames only "
                    "(train without --data_cache for this dataset)"
                )
            values[name] = np.stack([np.asarray(v) for v in column])
        yield index[start : start + len(rows["index"])], values


def _frame_layout(dataset: Any, key: str, backend: str) -> tuple[tuple[int, ...], np.dtype, bool]:
    """The shape and dtype of one decoded frame of camera ``key``, found by decoding it."""
    from lerobot.datasets.video_utils import decode_video_frames

    is_depth = key in dataset.meta.depth_keys
    episode = dataset.meta.episodes[0]
    path = dataset.root / dataset.meta.get_video_file_path(0, key)
    first = float(episode[f"videos/{key}/from_timestamp"])
    frame = decode_video_frames(
        path, [first], dataset.tolerance_s, backend, return_uint8=not is_depth, is_depth=is_depth
    )
    return tuple(frame.shape[1:]), frame.numpy().dtype, is_depth


def plan_tasks(
    dataset: Any, key: str, timestamps: np.ndarray, backend: str, is_depth: bool, array_file: Path
) -> list[DecodeTask]:
    """Tasks covering every frame of camera ``key``, in chunks of consecutive frames per episode."""
    tasks = []
    for ep_index in range(int(dataset.meta.total_episodes)):
        episode = dataset.meta.episodes[ep_index]
        start, stop = int(episode["dataset_from_index"]), int(episode["dataset_to_index"])
        offset = float(episode[f"videos/{key}/from_timestamp"])
        path = str(dataset.root / dataset.meta.get_video_file_path(ep_index, key))
        for chunk in range(start, stop, FRAMES_PER_TASK):
            end = min(stop, chunk + FRAMES_PER_TASK)
            # The timestamps lerobot queries: the episode's offset in the file + the row's timestamp.
            shifted = tuple(offset + ts for ts in timestamps[chunk:end].tolist())
            tasks.append(
                DecodeTask(path, shifted, dataset.tolerance_s, backend, is_depth, str(array_file), chunk)
            )
    return tasks


def build_cache(
    root: str | Path,
    cache_dir: str | Path,
    backend: str | None = None,
    workers: int | None = None,
    overwrite: bool = False,
    show_progress: bool = True,
) -> Manifest:
    """Build the cache of the dataset at ``root`` in ``cache_dir``; returns its manifest."""
    import datasets
    from lerobot.datasets.lerobot_dataset import LeRobotDataset
    from lerobot.utils.import_utils import get_safe_default_video_backend

    started = time.perf_counter()
    root, cache_dir = Path(root).resolve(), Path(cache_dir).resolve()
    if not (root / "meta" / "info.json").is_file():
        raise DataCacheError(
            f"{root} is not a LeRobot dataset (no meta/info.json); pass the dataset's root folder"
        )
    if cache_dir.exists() and not overwrite:
        what = "a data cache" if (cache_dir / MANIFEST).is_file() else "a folder that is not a data cache"
        raise DataCacheError(
            f"{cache_dir} already exists ({what}); pass --overwrite to replace it, or another --cache_dir"
        )
    if cache_dir == root or root in cache_dir.parents:
        raise DataCacheError(f"--cache_dir {cache_dir} is inside the dataset {root}; put the cache elsewhere")
    backend = backend or get_safe_default_video_backend()
    datasets.disable_progress_bars()
    dataset = LeRobotDataset(f"local/{root.name}", root=root, video_backend=backend)
    meta = dataset.meta
    total = int(meta.total_frames)

    batches = _column_batches(dataset)
    first_positions, first = next(batches)
    layouts = {key: _frame_layout(dataset, key, backend) for key in meta.video_keys}
    needed = total * (
        sum(v[0].nbytes for v in first.values())
        + sum(int(np.prod(shape)) * np.dtype(dtype).itemsize for shape, dtype, _ in layouts.values())
    )
    free = _free_bytes(cache_dir.parent)
    log.info(
        "data cache for %s: %s frames, %s cameras, about %s on disk", root, total, len(layouts), _gb(needed)
    )
    if needed * DISK_MARGIN > free:
        raise DataCacheError(
            f"the cache of {root} needs about {_gb(needed)}, but {cache_dir.parent} has {_gb(free)} free; "
            "choose a --cache_dir on a bigger disk (or keep fewer cameras with --camera_keys)"
        )

    for stale in cache_dir.parent.glob(cache_dir.name + ".partial-*"):
        shutil.rmtree(stale, ignore_errors=True)  # left by an interrupted build
    partial = cache_dir.with_name(f"{cache_dir.name}.partial-{os.getpid()}")
    (partial / "columns").mkdir(parents=True)
    try:
        manifest = _write(
            dataset, partial, first_positions, first, batches, layouts, backend, workers, show_progress
        )
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)  # a failed or interrupted build leaves nothing
        raise
    manifest.build_seconds = round(time.perf_counter() - started, 3)
    manifest.save(partial)  # last: a folder without it is not a cache
    if cache_dir.exists():
        old = cache_dir.with_name(f"{cache_dir.name}.replaced-{os.getpid()}")
        cache_dir.rename(old)
        partial.rename(cache_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        partial.rename(cache_dir)
    log.info(
        "data cache written to %s (%s frames, %s, %.1f s)",
        cache_dir,
        total,
        _gb(manifest.bytes),
        manifest.build_seconds,
    )
    return manifest


def _write(
    dataset: Any,
    partial: Path,
    first_positions: np.ndarray,
    first: dict[str, np.ndarray],
    batches: Any,
    layouts: dict[str, tuple[tuple[int, ...], np.dtype, bool]],
    backend: str,
    workers: int | None,
    show_progress: bool,
) -> Manifest:
    """Write the arrays into ``partial``; returns the manifest (not yet saved)."""
    from tqdm import tqdm

    meta, root = dataset.meta, Path(dataset.root).resolve()
    total = int(meta.total_frames)
    arrays: dict[str, ArraySpec] = {}
    columns: dict[str, np.ndarray] = {}
    for name, values in first.items():
        file = f"columns/{name}.npy"
        columns[name] = np.lib.format.open_memmap(
            partial / file, mode="w+", dtype=values.dtype, shape=(total, *values.shape[1:])
        )
        arrays[name] = ArraySpec(file, values.dtype.str, list(values.shape[1:]), "column")
    for positions, values in [(first_positions, first), *batches]:
        for name, value in values.items():
            columns[name][positions] = value
    for array in columns.values():
        array.flush()
    tasks: list[DecodeTask] = []
    (partial / "frames").mkdir()
    for key, (shape, dtype, is_depth) in layouts.items():
        file = f"frames/{key}.npy"
        np.lib.format.open_memmap(partial / file, mode="w+", dtype=dtype, shape=(total, *shape)).flush()
        arrays[key] = ArraySpec(file, np.dtype(dtype).str, list(shape), "depth" if is_depth else "rgb")
        tasks.extend(
            plan_tasks(dataset, key, np.asarray(columns["timestamp"]), backend, is_depth, partial / file)
        )

    frames = sum(len(t.timestamps) for t in tasks)
    if workers is None:
        workers = 1 if frames < PARALLEL_FROM_FRAMES else min(os.cpu_count() or 1, len(tasks))
    with tqdm(total=frames, unit="frame", desc="decoding cameras", disable=not show_progress) as bar:
        if workers <= 1:
            for task in tasks:
                bar.update(run_task(task))
        else:
            import multiprocessing

            # spawn: a fresh interpreter per worker, never a fork of one holding decoders.
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
                for done in as_completed([pool.submit(run_task, task) for task in tasks]):
                    bar.update(done.result())

    return Manifest(
        dataset_root=str(root),
        repo_id=str(dataset.repo_id),
        total_frames=total,
        total_episodes=int(meta.total_episodes),
        fps=int(meta.fps),
        backend=backend,
        versions=decoder_versions(backend),
        files=fingerprint(root, show_progress=show_progress),
        arrays=arrays,
    )
