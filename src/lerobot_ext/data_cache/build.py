"""``lerobot-ext cache build``: decode every camera of a dataset once, through lerobot's own
decoder with the backend training will use, into uint8 frame arrays (raw uint16 for depth).

A build holds the cache's lock (one build at a time), fingerprints the dataset's files *before*
it reads them and checks them again after decoding (a dataset edited mid-build is refused, never
cached), writes into ``<cache_dir>.partial-<host>-<pid>/`` and renames it to ``<cache_dir>`` only
after the manifest (written last) is on disk, so an interrupted build never leaves a folder that
looks like a cache. It estimates the size first and refuses when the disk cannot hold it. It
replaces only a folder that is one of its caches (``folders.py``): never a dataset or anything
else a user keeps there.
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

from lerobot_ext import check_dataset_version, get_logger
from lerobot_ext.data_cache.errors import DataCacheError
from lerobot_ext.data_cache.folders import (
    MANIFEST,
    MARKER,
    FolderState,
    check_placement,
    classify,
    describe_foreign,
)
from lerobot_ext.data_cache.locking import build_lock, remove_dead_leftovers, work_folder
from lerobot_ext.data_cache.manifest import (
    ArraySpec,
    Manifest,
    SourceFile,
    changed_files,
    decoder_versions,
    fingerprint,
    rebuild_command,
)

log = get_logger("data_cache")

FRAMES_PER_TASK = 64
# Below this many frames, starting worker processes costs more than it saves: measured on 2
# cores (BENCHMARKS.md section 6), 2 spawned workers cost ~5.4 s to start against ~1 s of pyav
# decoding per 1,000 frames in one process - about 10,000 frames to break even there.
PARALLEL_FROM_FRAMES = 10_000
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


def decode_failed(task: DecodeTask, exc: Exception) -> DataCacheError:
    """The decoder's own error, with what it was decoding and what to do, as one line."""
    return DataCacheError(
        f"decoding {task.video_path} at {task.timestamps[0]:.3f}-{task.timestamps[-1]:.3f} s failed "
        f"({type(exc).__name__}: {exc}); nothing was cached - check that file (e.g. play it), or "
        "build with the other --backend"
    )


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


def _checked_paths(root: str | Path, cache_dir: str | Path) -> tuple[Path, Path]:
    root, cache_dir = Path(root).expanduser().resolve(), Path(cache_dir).expanduser().resolve()
    if not (root / "meta" / "info.json").is_file():
        raise DataCacheError(
            f"{root} is not a LeRobot dataset (no meta/info.json); pass the dataset's root folder"
        )
    check_placement(root, cache_dir)
    check_dataset_version(root, None)  # a v2.x folder: one line with the convert command
    return root, cache_dir


def _check_replaceable(
    root: Path, cache_dir: Path, overwrite: bool, state: FolderState | None = None
) -> FolderState:
    """What is at ``cache_dir`` now (or ``state``), refusing anything a build may not replace."""
    state = classify(cache_dir) if state is None else state
    if state is FolderState.FOREIGN:
        raise DataCacheError(
            f"{describe_foreign(cache_dir)}; nothing there is touched, even with --overwrite: choose a "
            f"new or empty folder for the cache, e.g. {cache_dir.parent / (root.name + '_cache')}"
        )
    if state in (FolderState.CACHE, FolderState.DAMAGED) and not overwrite:
        raise DataCacheError(
            f"{cache_dir} already exists ({state.value}); replace it with `{rebuild_command(root, cache_dir)}`, "
            "or choose another folder"
        )
    return state


def build_cache(
    root: str | Path,
    cache_dir: str | Path,
    backend: str | None = None,
    workers: int | None = None,
    overwrite: bool = False,
    show_progress: bool = True,
) -> Manifest:
    """Build the cache of the dataset at ``root`` in ``cache_dir``; returns its manifest.

    ``overwrite`` replaces an existing cache (only one of ours). Refuses while another process
    builds the same cache (:class:`~lerobot_ext.data_cache.errors.CacheBusyError`).
    """
    root, cache_dir = _checked_paths(root, cache_dir)
    _check_replaceable(root, cache_dir, overwrite)  # before the lock: a bad folder fails at once
    with build_lock(cache_dir, wait=False):
        return _build(root, cache_dir, backend, workers, overwrite, show_progress)


def build_missing_cache(
    root: str | Path, cache_dir: str | Path, backend: str, show_progress: bool = True
) -> None:
    """Training's build: into a missing or empty folder only, never replacing anything. If
    another process is building the same cache, wait for it (with a message) and use its cache."""
    root, cache_dir = _checked_paths(root, cache_dir)
    state = classify(cache_dir)
    if state is FolderState.CACHE:
        return  # another process's build finished just now (a cache appears by one rename)
    _check_replaceable(root, cache_dir, overwrite=False, state=state)

    def waiting(holder: str, seconds: float) -> None:
        log.warning("--data_cache: waiting for %s to finish building %s (%.0f s)", holder, cache_dir, seconds)

    with build_lock(cache_dir, wait=True, on_wait=waiting):
        if (cache_dir / MANIFEST).is_file():
            log.info("--data_cache: %s was built by another process meanwhile", cache_dir)
            return
        _build(root, cache_dir, backend, None, False, show_progress)


def _build(
    root: Path,
    cache_dir: Path,
    backend: str | None,
    workers: int | None,
    overwrite: bool,
    show_progress: bool,
) -> Manifest:
    """The build itself, with the lock held."""
    import datasets
    from lerobot.datasets.lerobot_dataset import LeRobotDataset
    from lerobot.utils.import_utils import get_safe_default_video_backend

    started = time.perf_counter()
    state = _check_replaceable(root, cache_dir, overwrite)  # again, now that nobody else builds
    remove_dead_leftovers(cache_dir)
    backend = backend or get_safe_default_video_backend()
    # Before anything is read: whatever the build reads is at least as new as this fingerprint,
    # and the check after decoding refuses a dataset that changed while it was read.
    files = fingerprint(root, show_progress=show_progress)
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
        old = ""
        if state in (FolderState.CACHE, FolderState.DAMAGED):
            # The old cache is removed only once the new one is complete, so it does not count as room.
            old = f" (the old cache there, {_gb(_du(cache_dir))}, stays until the new one is complete)"
        raise DataCacheError(
            f"the cache of {root} needs about {_gb(needed)}, but {cache_dir.parent} has {_gb(free)} free{old}; "
            "choose a cache folder on a bigger disk"
        )

    partial = work_folder(cache_dir, "partial")
    partial.mkdir(parents=True)
    (partial / MARKER).write_text("a lerobot-ext data cache (see manifest.json)\n")
    (partial / "columns").mkdir()
    try:
        manifest = _write(
            dataset, partial, first_positions, first, batches, layouts, backend, workers, show_progress, files
        )
        changed = changed_files(files, root)
        if changed:
            raise DataCacheError(
                f"the dataset {root} changed while its cache was built ({'; '.join(changed[:3])}); nothing "
                "was cached - build again once nothing writes to the dataset"
            )
        manifest.build_seconds = round(time.perf_counter() - started, 3)
        manifest.save(partial)  # last: a folder without it is not a cache
        _swap_in(partial, cache_dir)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)  # a failed or interrupted build leaves nothing
        raise
    log.info(
        "data cache written to %s (%s frames, %s, %.1f s)",
        cache_dir,
        total,
        _gb(manifest.bytes),
        manifest.build_seconds,
    )
    return manifest


def _du(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _swap_in(partial: Path, cache_dir: Path) -> None:
    """Rename the finished build to ``cache_dir``, replacing only an empty folder or a cache of ours."""
    state = classify(cache_dir)
    if state is FolderState.MISSING:
        partial.rename(cache_dir)
    elif state is FolderState.EMPTY:
        cache_dir.rmdir()
        partial.rename(cache_dir)
    elif state in (FolderState.CACHE, FolderState.DAMAGED):
        old = work_folder(cache_dir, "replaced")
        cache_dir.rename(old)
        partial.rename(cache_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:  # someone put files there during the build: leave them alone
        raise DataCacheError(
            f"{describe_foreign(cache_dir)}: they appeared during the build, and nothing there was "
            "touched; choose a new or empty folder for the cache"
        )


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
    files: list[SourceFile],
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
                try:
                    bar.update(run_task(task))
                except Exception as exc:
                    raise decode_failed(task, exc) from exc
        else:
            _run_parallel(tasks, workers, bar)
    for spec in arrays.values():
        spec.file_bytes = (partial / spec.file).stat().st_size

    return Manifest(
        dataset_root=str(root),
        repo_id=str(dataset.repo_id),
        total_frames=total,
        total_episodes=int(meta.total_episodes),
        fps=int(meta.fps),
        backend=backend,
        versions=decoder_versions(backend),
        files=files,
        arrays=arrays,
    )


def _ignore_interrupts() -> None:
    """A decoding worker leaves Ctrl-C to the build's process, which stops the pool: otherwise
    every worker would die of it too, each printing its own traceback."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_parallel(tasks: list[DecodeTask], workers: int, bar: Any) -> None:
    import multiprocessing

    # spawn: a fresh interpreter per worker, never a fork of one holding decoders.
    pool = ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("spawn"), initializer=_ignore_interrupts
    )
    try:
        futures = {pool.submit(run_task, task): task for task in tasks}
        for done in as_completed(futures):
            try:
                bar.update(done.result())
            except Exception as exc:
                raise decode_failed(futures[done], exc) from exc
    except BaseException:
        # Ctrl-C or a failed task: drop the queued tasks instead of decoding them all first.
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
