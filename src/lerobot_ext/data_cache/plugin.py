"""Built-in plugin ``data_cache``: ``--data_cache=DIR`` and ``lerobot-ext cache build|info``.

``wrap_dataset`` (``trylast``: after every plugin that changes what the upstream dataset reads,
such as ``--camera_keys``) replaces the training dataset by one that reads the cache: built
first if missing - into a missing or empty folder only, never over anything else - refused if
damaged or stale, and spot-checked against the decoder before training.

With several processes (torchrun) and a local dataset, a missing cache is built in ``configure``
instead, before upstream creates the process group: the main process builds while the others
poll for the manifest, so a build of any length never runs into a process-group barrier's
timeout. (A Hub dataset is only downloaded inside upstream's ``make_dataset``; its cache is built
in ``wrap_dataset`` on the main process while the others wait at upstream's barrier - fine for a
small dataset; build a big one first with ``lerobot-ext cache build``.)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lerobot_ext import ConfigError, RunContext, get_logger, hookimpl
from lerobot_ext.data_cache import upstream_names
from lerobot_ext.data_cache.errors import DataCacheError, StaleCacheError
from lerobot_ext.data_cache.folders import MANIFEST
from lerobot_ext.data_cache.locking import lock_path
from lerobot_ext.data_cache.manifest import Manifest, decoder_versions, rebuild_command, stale_reasons

log = get_logger("data_cache")

SPOT_CHECKS = 3
# Under torchrun the other ranks poll for the main process's build this often, and say they still
# wait this often (a build of a large dataset takes many minutes: less chatter than LOCK_REPORT_S).
RANK_POLL_S = 2.0
RANK_REPORT_S = 300.0
# How long they wait for the build to start (its lock file to appear) before giving up.
START_GRACE_S = 600.0


@hookimpl
def register_upstream_names(register: Callable[..., None]) -> None:
    upstream_names.declare(register)


@hookimpl
def register_config_fields(register: Callable[..., None]) -> None:
    register(
        "data_cache",
        str | None,
        None,
        help="serve training items from frames decoded once into DIR (built first if missing; "
        "bit-identical to decoding; see `lerobot-ext cache build`)",
    )


@hookimpl
def register_commands(register: Callable[..., None]) -> None:
    from lerobot_ext.data_cache import commands

    register(
        "cache", "build or describe a decoded-sample cache of a dataset", commands.configure, commands.run
    )


@hookimpl(trylast=True)  # last: the config every other plugin settled on (e.g. --auto_resume's)
def configure(cfg: Any, run: RunContext) -> None:
    if cfg.data_cache is None:
        return
    if not str(cfg.data_cache).strip():
        raise ConfigError(
            "--data_cache is empty; give the cache folder: --data_cache=/fast/disk/cache/<dataset>"
        )
    if run.world_size > 1:
        _build_before_the_process_group(cfg, run)


def _build_before_the_process_group(cfg: Any, run: RunContext) -> None:
    """Several processes: build a missing cache of a local dataset now, the others polling."""
    from lerobot_ext.data_cache.build import build_missing_cache

    if cfg.dataset.root is None or not (Path(cfg.dataset.root) / "meta" / "info.json").is_file():
        return  # a Hub dataset, downloaded later by upstream: wrap_dataset builds its cache
    folder = Path(cfg.data_cache).expanduser().resolve()
    if (folder / MANIFEST).is_file():
        return  # wrap_dataset checks it, in every process
    if run.rank == 0:
        log.info(
            "--data_cache: no cache at %s yet; building it (once) before training starts, while the "
            "other ranks (%s) wait for it",
            folder,
            run.world_size - 1,
        )
        build_missing_cache(cfg.dataset.root, folder, backend=cfg.dataset.video_backend)
    else:
        wait_for_cache(folder, run.rank)


def wait_for_cache(folder: Path, rank: int) -> None:
    """A non-main process: wait until the main process's build of ``folder`` is complete."""
    lock = lock_path(folder)
    started = reported = time.monotonic()
    while not (folder / MANIFEST).is_file():
        now = time.monotonic()
        if now - started > START_GRACE_S and not lock.exists():
            raise DataCacheError(
                f"rank {rank}: the main process has not built the data cache at {folder} after "
                f"{START_GRACE_S:.0f} s and no build is running; see its log (the cache folder must be on "
                "a filesystem every process sees, as the dataset is)"
            )
        if now - reported >= RANK_REPORT_S:
            log.warning(
                "rank %s: still waiting for the main process to build the data cache at %s (%.0f min; "
                "its log shows the progress)",
                rank,
                folder,
                (now - started) / 60,
            )
            reported = now
        time.sleep(RANK_POLL_S)


def cache_folder(data_cache: str, source: Any) -> Path:
    """Where the cache of one of the run's datasets is: ``--data_cache`` itself for the run's own,
    ``<--data_cache>-mix<N>`` beside it for the N-th dataset ``--dataset.mix`` adds."""
    folder = Path(data_cache).expanduser().resolve()
    index = getattr(source, "index", 0)
    return folder if not index else folder.with_name(f"{folder.name}-mix{index}")


@hookimpl(trylast=True)
def wrap_dataset(cfg: Any, dataset: Any, role: str, source: Any, run: RunContext) -> Any:
    if not cfg.data_cache:
        return None
    from lerobot_ext.data_cache.build import build_missing_cache
    from lerobot_ext.data_cache.dataset import CachedDataset

    if not (hasattr(dataset, "reader") and hasattr(dataset, "hf_dataset")):
        raise ConfigError(
            f"--data_cache serves a LeRobotDataset read from local files; this run's {role} dataset is a "
            f"{type(dataset).__name__} (streaming?): train without --data_cache"
        )
    folder = cache_folder(cfg.data_cache, source)
    root = Path(dataset.root).resolve()
    backend = cfg.dataset.video_backend
    if not (folder / MANIFEST).is_file():
        if run.rank != 0:
            raise DataCacheError(
                f"rank {run.rank}: the main process did not build the data cache at {folder}; see its log "
                "(the cache folder must be on a filesystem every process sees)"
            )
        log.info(
            "--data_cache: no cache at %s yet; building it (once) from %s with %s", folder, root, backend
        )
        # Only into a missing or empty folder: anything else there is refused, never replaced.
        build_missing_cache(root, folder, backend=backend)
    manifest = Manifest.load(folder)
    rebuild = rebuild_command(root, folder)
    if Path(manifest.dataset_root) != root:
        raise StaleCacheError(
            f"the data cache at {folder} was built from {manifest.dataset_root}, not {root}; use that "
            f"dataset's cache, or build this one's in another folder: "
            f"lerobot-ext cache build {root} --cache_dir <new folder>"
        )
    manifest.check_intact(folder)
    reasons = stale_reasons(manifest, root, backend, decoder_versions(backend))
    if reasons:
        raise StaleCacheError(
            f"the data cache at {folder} is stale - {'; '.join(reasons[:5])}"
            f"{f' (and {len(reasons) - 5} more)' if len(reasons) > 5 else ''}. It is never served stale: "
            f"rebuild it with `{rebuild}`, or delete it (--data_cache builds a missing cache)"
        )
    # lerobot-train's datasets return uint8 frames whatever --dataset.return_uint8 says (its
    # make_dataset passes True); serve what this dataset returns.
    return_uint8 = bool(getattr(dataset, "_return_uint8", cfg.dataset.return_uint8))
    cached = CachedDataset(dataset, folder, manifest, return_uint8, cfg.dataset.depth_output_unit)
    if role == "train" and run.rank == 0:
        spot_check(dataset, cached, folder, backend)
    log.info("--data_cache: %s items from %s (rank %s)", role, folder, run.rank)
    return cached


def spot_check(dataset: Any, cached: Any, folder: Path, backend: str, count: int = SPOT_CHECKS) -> None:
    """Compare a few random items with the decoder's before training: never train on a bad cache."""
    import numpy as np

    from lerobot_ext.data_cache.dataset import compare_items

    rng = np.random.default_rng()
    indices = rng.choice(len(cached), size=min(count, len(cached)), replace=False).tolist()
    transforms = dataset.image_transforms
    dataset.clear_image_transforms()  # random augmentations would differ; compare what is cached
    try:
        for index in indices:
            problems = compare_items(dataset[index], cached[index])
            if problems:
                raise StaleCacheError(
                    f"the data cache at {folder} does not match the decoder at item {index}: "
                    f"{'; '.join(problems[:3])}. Rebuild it: {rebuild_command(dataset.root, folder)}"
                )
    finally:
        if transforms is not None:
            dataset.set_image_transforms(transforms)
        if backend == "torchcodec":
            # Decoders opened here must not be inherited by forked DataLoader workers.
            from lerobot.datasets import video_utils

            cache = getattr(video_utils, "_default_decoder_cache", None)
            if cache is not None:
                cache.clear()
    log.info("--data_cache: items %s match the decoder bit for bit", indices)


@hookimpl(optionalhook=True)
def profile_advice(cfg: Any, verdict: str, settings: dict[str, Any]) -> list[str] | None:
    """A data-bound run that decodes video: a cache decodes each frame once, for every epoch."""
    if verdict == "NOT" or cfg.data_cache or not settings.get("cameras"):
        return None
    return [
        "--data_cache=<folder on a fast disk>: decode every camera once and read frames from memory "
        "maps, bit-identical to decoding (`lerobot-ext cache build <dataset> --cache_dir <folder>` "
        "says how much disk it needs)"
    ]
