"""``lerobot-ext cache build DATASET_ROOT --cache_dir DIR`` and ``lerobot-ext cache info DIR``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lerobot_ext.data_cache.manifest import Manifest, decoder_versions, rebuild_command, stale_reasons


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="cache_command", required=True)
    build = actions.add_parser(
        "build",
        help="decode every camera of a dataset once into DIR",
        description="Decode every camera once, through lerobot's decoder with the backend training will "
        "use, into uint8 frame arrays (raw uint16 for depth), with the parquet columns and a manifest.",
    )
    build.add_argument("root", help="the dataset's root folder (with meta/info.json)")
    build.add_argument("--cache_dir", "--cache-dir", required=True, help="the folder to create")
    build.add_argument(
        "--backend", choices=("pyav", "torchcodec"), default=None, help="default: what training uses"
    )
    build.add_argument(
        "--workers", type=int, default=None, help="decoding processes (default: all cores for big datasets)"
    )
    build.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing cache (only a cache: a folder holding anything else is never touched)",
    )
    info = actions.add_parser("info", help="what a cache holds and whether it matches its dataset")
    info.add_argument("cache_dir")
    info.add_argument("--json", action="store_true")


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000
    return f"{n:.1f} TB"


def run(args: argparse.Namespace) -> int:
    if args.cache_command == "build":
        from lerobot_ext.data_cache.build import build_cache

        manifest = build_cache(
            args.root, args.cache_dir, backend=args.backend, workers=args.workers, overwrite=args.overwrite
        )
        print(
            f"built {args.cache_dir}: {manifest.total_frames} frames, {_size(manifest.bytes)} in {manifest.build_seconds:.1f} s"
        )
        return 0
    folder = Path(args.cache_dir)
    manifest = Manifest.load(folder)  # an unreadable manifest: one line (DamagedCacheError)
    root = Path(manifest.dataset_root)
    damage = manifest.damage(folder)
    reasons = (
        stale_reasons(manifest, root, manifest.backend, decoder_versions(manifest.backend))
        if root.is_dir()
        else [f"its dataset {root} is gone"]
    )
    rebuild = rebuild_command(root, args.cache_dir)
    if args.json:
        print(
            json.dumps(
                {
                    "manifest": {
                        **manifest.__dict__,
                        "files": len(manifest.files),
                        "arrays": {k: v.__dict__ for k, v in manifest.arrays.items()},
                    },
                    "bytes": manifest.bytes,
                    "matches_dataset": not reasons,
                    "stale": reasons,
                    "intact": not damage,
                    "damaged": damage,
                },
                indent=2,
                default=str,
            )
        )
        return 0 if not (reasons or damage) else 1
    print(f"data cache {args.cache_dir}")
    print(
        f"  dataset {manifest.dataset_root} ({manifest.repo_id}): {manifest.total_frames} frames, {manifest.total_episodes} episodes, {manifest.fps} fps"
    )
    print(
        f"  decoded with {manifest.backend}; " + ", ".join(f"{k} {v}" for k, v in manifest.versions.items())
    )
    print(
        f"  {_size(manifest.bytes)} on disk ({_size(manifest.bytes / max(1, manifest.total_frames))} per frame), built in {manifest.build_seconds:.1f} s"
    )
    for key, spec in manifest.cameras.items():
        print(f"  camera {key}: {spec.kind} {spec.dtype} {spec.shape}")
    columns = [k for k, s in manifest.arrays.items() if s.kind == "column"]
    print(f"  columns: {', '.join(columns)}")
    if damage:
        print("  DAMAGED - it will not be served: " + "; ".join(damage))
    if reasons:
        print("  STALE - it will not be served: " + "; ".join(reasons))
    if damage or reasons:
        print(f"  rebuild: {rebuild}")
        return 1
    print(
        f"  intact ({len(manifest.arrays)} array files at their recorded sizes) and matches its dataset "
        f"({len(manifest.files)} source files checked)"
    )
    return 0
