"""Built-in plugin ``data_cache``: ``--data_cache=DIR`` and ``lerobot-ext cache build|info``.

``wrap_dataset`` (``trylast``: after every plugin that changes what the upstream dataset reads,
such as ``--camera_keys``) replaces the training dataset by one that reads the cache: built
first if missing (the main process builds; the others wait at upstream's barrier after the
dataset is made), refused if stale, and spot-checked against the decoder before training.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lerobot_ext.console import get_logger
from lerobot_ext.data_cache.manifest import MANIFEST, Manifest, decoder_versions, stale_reasons
from lerobot_ext.errors import ConfigError, StaleCacheError
from lerobot_ext.plugins import hookimpl

log = get_logger("data_cache")

SPOT_CHECKS = 3


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


@hookimpl
def register_upstream_names(register: Callable[..., None]) -> None:
    for path, why in (
        ("lerobot.datasets.video_utils.decode_video_frames", "the cache is decoded by lerobot's own decoder"),
        (
            "lerobot.datasets.depth_utils.dequantize_depth",
            "cached depth frames are dequantised as lerobot does",
        ),
        ("lerobot.configs.video.DepthEncoderConfig.from_video_info", "each depth camera's quantisation"),
        ("lerobot.utils.import_utils.get_safe_default_video_backend", "the backend training would use"),
        (
            "lerobot.datasets.dataset_reader.DatasetReader",
            "items read delta windows from reader.delta_indices",
        ),
        (
            "lerobot.datasets.lerobot_dataset.LeRobotDataset.clear_image_transforms",
            "the spot check compares raw items",
        ),
    ):
        register(path, why)


@hookimpl
def configure(cfg: Any) -> None:
    if cfg.data_cache is not None and not str(cfg.data_cache).strip():
        raise ConfigError(
            "--data_cache is empty; give the cache folder: --data_cache=/fast/disk/cache/<dataset>"
        )


def _is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


@hookimpl(trylast=True)
def wrap_dataset(cfg: Any, dataset: Any, role: str) -> Any:
    if not cfg.data_cache:
        return None
    from lerobot_ext.data_cache.build import build_cache
    from lerobot_ext.data_cache.dataset import CachedDataset

    if not (hasattr(dataset, "reader") and hasattr(dataset, "hf_dataset")):
        raise ConfigError(
            f"--data_cache serves a LeRobotDataset read from local files; this run's {role} dataset is a "
            f"{type(dataset).__name__} (streaming, or several datasets?): train without --data_cache"
        )
    folder = Path(cfg.data_cache).expanduser().resolve()
    root = Path(dataset.root).resolve()
    backend = cfg.dataset.video_backend
    if not (folder / MANIFEST).is_file():
        if not _is_main_process():
            raise StaleCacheError(f"the main process did not build the data cache at {folder}; see its log")
        log.info(
            "--data_cache: no cache at %s yet; building it (once) from %s with %s", folder, root, backend
        )
        build_cache(root, folder, backend=backend, overwrite=folder.exists())
    manifest = Manifest.load(folder)
    rebuild = f"lerobot-ext cache build {root} --cache_dir {folder} --overwrite"
    if Path(manifest.dataset_root) != root:
        raise StaleCacheError(
            f"the data cache at {folder} was built from {manifest.dataset_root}, not {root}; use that "
            f"dataset's cache, or build this one's: {rebuild}"
        )
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
    if role == "train" and _is_main_process():
        spot_check(dataset, cached, folder, backend)
    log.info("--data_cache: %s items from %s", role, folder)
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
                    f"{'; '.join(problems[:3])}. Rebuild it: lerobot-ext cache build {dataset.root} "
                    f"--cache_dir {folder} --overwrite"
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
