"""What does ``--data_cache`` buy? Side by side in one run, in alternating rounds:

1. ``dataset[i]``: upstream's ``LeRobotDataset`` (pyav; torchcodec where it loads) vs the cache;
2. DataLoader samples/s without a model (batch 64, 2 workers);
3. end to end with ``--profile`` on a video-heavy CPU job: the data_wait share, with and without;
4. bytes on disk per frame and build time per 1,000 frames (one process, and all cores).

The dataset is the RoboCasa demo layout (3 cameras, 64 px, AV1), read with the users' Diffusion
Policy windows (``n_obs_steps`` 2, horizon 8: observations at -1 and 0, actions at -1 ... 6).
torchcodec is measured where it loads (it needs FFmpeg's shared libraries; the project does not).

    python benchmarks/data_cache.py [--rounds 5] [--items 80] [--episodes 12]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from common import BIN, ENV, TINY_DIFFUSION, dataset_flags, demo_dataset

CAMERAS = ("robot0_agentview_left", "robot0_agentview_right", "robot0_eye_in_hand")
FPS = 20
DELTAS = {
    **{f"observation.images.{cam}": [-1 / FPS, 0.0] for cam in CAMERAS},
    "observation.state": [-1 / FPS, 0.0],
    "action": [i / FPS for i in range(-1, 7)],  # Diffusion Policy's action_delta_indices
}


def upstream(root: Path, backend: str):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    return LeRobotDataset(
        f"local/{root.name}", root=root, delta_timestamps=DELTAS, video_backend=backend, return_uint8=True
    )


def item_ms(dataset, indices: list[int]) -> float:
    start = time.perf_counter()
    for index in indices:
        dataset[index]
    return (time.perf_counter() - start) / len(indices) * 1e3


def loader_rate(dataset, batches: int) -> float:
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=64,
        num_workers=2,
        shuffle=True,
        generator=torch.Generator().manual_seed(0),
        persistent_workers=False,
    )
    iterator = iter(loader)
    next(iterator)  # workers started, first batch: not what a long run waits for
    start = time.perf_counter()
    seen = 0
    for _ in range(batches):
        seen += len(next(iterator)["index"])
    return seen / (time.perf_counter() - start)


def profiled_data_wait(root: Path, cache: Path | None, steps: int, backend: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        args = [
            str(BIN / "lerobot-train-ext"), *dataset_flags(root), *TINY_DIFFUSION,
            "--policy.crop_shape=[56,56]", "--policy.use_separate_rgb_encoder_per_camera=false",
            f"--dataset.video_backend={backend}",
            f"--steps={steps}", "--num_workers=0", "--profile", "--profile.warmup_steps=3", "--profile.chart=false",
            f"--output_dir={Path(tmp) / 'run'}", *([f"--data_cache={cache}"] if cache else []),
        ]  # fmt: skip
        result = subprocess.run(args, capture_output=True, text=True, env=ENV)
        if result.returncode != 0:
            raise SystemExit(result.stderr[-3000:])
        summary = json.loads((Path(tmp) / "run" / "profile" / "summary.json").read_text())
    return summary["phases"]["data_wait"]["percent_of_step"]


def paired(label: str, base: list[float], cand: list[float], unit: str, higher_is_better: bool) -> None:
    ratios = [c / b if higher_is_better else b / c for b, c in zip(base, cand, strict=True)]
    print(
        f"{label}: upstream {statistics.median(base):.3f} {unit}, cached {statistics.median(cand):.3f} {unit} (medians)"
    )
    print(
        f"  speed-up per round: {', '.join(f'{r:.1f}' for r in ratios)}; median {statistics.median(ratios):.1f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--items", type=int, default=80)
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--episodes", type=int, default=12)
    parser.add_argument("--profile_steps", type=int, default=25)
    args = parser.parse_args()
    import datasets

    from lerobot_ext.data_cache.build import build_cache
    from lerobot_ext.data_cache.dataset import CachedDataset
    from lerobot_ext.data_cache.manifest import Manifest
    from lerobot_ext.video_backend import quiet_torchcodec_fallback, torchcodec_loadable

    datasets.disable_progress_bars()
    quiet_torchcodec_fallback()
    torch.set_num_threads(int(ENV["OMP_NUM_THREADS"]))
    backends = ["pyav", *(["torchcodec"] if torchcodec_loadable() else [])]
    with tempfile.TemporaryDirectory() as tmp:
        root = demo_dataset(
            "robocasa", Path(tmp) / "robocasa", episodes=args.episodes, frames=40, image_size=64
        )
        caches, builds = {}, {}
        for backend in backends:
            folder = Path(tmp) / f"cache_{backend}"
            manifest = build_cache(root, folder, backend=backend, workers=1, show_progress=False)
            caches[backend], builds[backend] = folder, manifest
        cores = os.cpu_count() or 1
        parallel = build_cache(
            root, Path(tmp) / "cache_parallel", backend="pyav", workers=cores, show_progress=False
        )
        print(
            f"dataset: robocasa demo, {args.episodes} episodes x 40 frames, 3 cameras 64x64 (AV1), n_obs_steps 2, "
            f"horizon 8; torch threads {ENV['OMP_NUM_THREADS']}; backends {', '.join(backends)}"
            f"{'' if 'torchcodec' in backends else ' (torchcodec cannot load here: no system FFmpeg)'}"
        )
        for backend, manifest in builds.items():
            frames = manifest.total_frames
            print(
                f"cache ({backend}): {manifest.bytes / frames / 1e3:.1f} KB per frame (all cameras and columns), "
                f"{manifest.bytes / 1e6:.1f} MB for {frames} frames; build {manifest.build_seconds / frames * 1000:.2f} s "
                f"per 1,000 frames (one process)"
            )
        print(
            f"cache (pyav), {cores} decoding processes: build {parallel.build_seconds / parallel.total_frames * 1000:.2f} s "
            f"per 1,000 frames (process start-up included; this machine has {cores} cores, shared)"
        )

        for backend in backends:
            plain = upstream(root, backend)
            fast = CachedDataset(
                upstream(root, backend), caches[backend], Manifest.load(caches[backend]), True, "mm"
            )
            rng = np.random.default_rng(0)
            items = {"upstream": [], "cached": []}
            loaders = {"upstream": [], "cached": []}
            for round_index in range(args.rounds):
                indices = rng.integers(0, len(plain), size=args.items).tolist()
                order = [("upstream", plain), ("cached", fast)]
                for name, data in order if round_index % 2 == 0 else order[::-1]:
                    items[name].append(item_ms(data, indices))
                    loaders[name].append(loader_rate(data, args.batches))
                    print(
                        f"  [{backend}] round {round_index + 1}/{args.rounds} {name:<8} {items[name][-1]:8.3f} ms/item "
                        f"{loaders[name][-1]:8.1f} samples/s (DataLoader, batch 64, 2 workers)",
                        flush=True,
                    )
            paired(
                f"[{backend}] dataset[i]", items["upstream"], items["cached"], "ms", higher_is_better=False
            )
            paired(
                f"[{backend}] DataLoader",
                loaders["upstream"],
                loaders["cached"],
                "samples/s",
                higher_is_better=True,
            )

        summary = []
        for backend in backends:
            shares = {"upstream": [], "cached": []}
            for round_index in range(2):
                for name in ("upstream", "cached") if round_index == 0 else ("cached", "upstream"):
                    cache = caches[backend] if name == "cached" else None
                    shares[name].append(profiled_data_wait(root, cache, args.profile_steps, backend))
                    print(
                        f"  [{backend}] --profile round {round_index + 1}/2 {name:<8} data_wait "
                        f"{shares[name][-1]:.1f}% of the step",
                        flush=True,
                    )
            summary.append(
                f"  {backend}: data_wait {statistics.median(shares['upstream']):.1f}% of the step without the "
                f"cache, {statistics.median(shares['cached']):.1f}% with it (median of 2 rounds)"
            )
        print(
            f"end to end (--profile, tiny diffusion, batch 8, num_workers 0, {args.profile_steps} steps, "
            "3 of them warm-up):"
        )
        print("\n".join(summary))


if __name__ == "__main__":
    main()
