"""What does ``--camera_keys`` save in data time? (dropped cameras are not decoded)

Side by side in one run, in alternating rounds: ``dataset[i]`` and a DataLoader pass on the
RoboCasa demo layout (3 cameras, 64 px, ``n_obs_steps`` 2 as the users' Diffusion Policy), with
all three cameras and with ``--camera_keys=[robot0_eye_in_hand]``. The camera variant is made the
way ``lerobot-train-ext`` makes it: the cameras plugin's ``transform_dataset`` and
``wrap_dataset`` hooks, through the plugin host.

    python benchmarks/camera_selection.py [--rounds 5] [--items 60]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from common import ENV, demo_dataset

CAMERAS = ("robot0_agentview_left", "robot0_agentview_right", "robot0_eye_in_hand")


def make_dataset(root: Path, camera_keys: list[str]):
    """The training dataset ``lerobot-train-ext`` builds for ``--camera_keys`` (all: [])."""
    import types

    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    from lerobot_ext.context import RunContext
    from lerobot_ext.dispatch import hooks_of, load_plugins
    from lerobot_ext.layout import DatasetDescription
    from lerobot_ext.training import planned_changes

    fps = 20
    delta = {f"observation.images.{cam}": [-1 / fps, 0.0] for cam in CAMERAS}
    delta |= {"observation.state": [-1 / fps, 0.0], "action": [i / fps for i in range(8)]}
    dataset = LeRobotDataset(f"local/{root.name}", root=root, delta_timestamps=delta, video_backend="pyav")
    host = load_plugins(environ={"LEROBOT_EXT_PLUGINS": "cameras,robot_adapters"})
    cfg = types.SimpleNamespace(camera_keys=camera_keys, robot_adapter=None)
    description = DatasetDescription.from_metadata(dataset.meta)
    hooks = hooks_of(host)
    run = RunContext("benchmark", hooks)
    applied = planned_changes(hooks, cfg, run, description)
    wrapped, _ = hooks.chain("wrap_dataset", cfg=cfg, dataset=dataset, role="train", planned=applied, run=run)
    return wrapped


def item_ms(dataset, indices: list[int]) -> float:
    start = time.perf_counter()
    for index in indices:
        dataset[index]
    return (time.perf_counter() - start) / len(indices) * 1e3


def loader_samples_per_s(dataset, batches: int, batch_size: int = 16) -> float:
    generator = torch.Generator().manual_seed(0)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=generator)
    start, seen = time.perf_counter(), 0
    for batch_index, batch in enumerate(loader):
        seen += len(batch["index"])
        if batch_index + 1 == batches:
            break
    return seen / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--items", type=int, default=60, help="dataset[i] calls per round and variant")
    parser.add_argument(
        "--batches", type=int, default=4, help="DataLoader batches (16) per round and variant"
    )
    args = parser.parse_args()
    import datasets

    from lerobot_ext.video_backend import quiet_torchcodec_fallback

    datasets.disable_progress_bars()
    quiet_torchcodec_fallback()
    torch.set_num_threads(int(ENV["OMP_NUM_THREADS"]))
    with tempfile.TemporaryDirectory() as tmp:
        root = demo_dataset("robocasa", Path(tmp) / "robocasa", episodes=8, frames=40, image_size=64)
        variants = {
            "all 3 cameras": make_dataset(root, []),
            "--camera_keys=[eye_in_hand]": make_dataset(root, ["robot0_eye_in_hand"]),
        }
        keys = {
            name: sorted(k for k in ds[0] if k.startswith("observation.images.") and "_is_pad" not in k)
            for name, ds in variants.items()
        }
        print(
            f"dataset: robocasa demo, 8 episodes x 40 frames, 3 cameras 64x64 (AV1, pyav), n_obs_steps 2; "
            f"torch threads {ENV['OMP_NUM_THREADS']}"
        )
        for name, cams in keys.items():
            print(f"  {name}: item cameras {[c.rsplit('.', 1)[-1] for c in cams]}")
        rng = np.random.default_rng(0)
        names = list(variants)
        items: dict[str, list[float]] = {name: [] for name in names}
        loader: dict[str, list[float]] = {name: [] for name in names}
        for round_index in range(args.rounds):
            indices = rng.integers(0, len(variants[names[0]]), size=args.items).tolist()
            for name in names if round_index % 2 == 0 else names[::-1]:
                items[name].append(item_ms(variants[name], indices))
                loader[name].append(loader_samples_per_s(variants[name], args.batches))
                print(
                    f"  round {round_index + 1}/{args.rounds} {name:<28} {items[name][-1]:7.2f} ms/item "
                    f"{loader[name][-1]:7.1f} samples/s",
                    flush=True,
                )
    base, cand = names
    item_ratios = [b / c for b, c in zip(items[base], items[cand], strict=True)]
    loader_ratios = [c / b for b, c in zip(loader[base], loader[cand], strict=True)]
    print()
    print(
        f"dataset[i] ms, median: all {statistics.median(items[base]):.2f}, one camera {statistics.median(items[cand]):.2f}"
    )
    print(
        f"speed-up per item (all / one camera), per round: {', '.join(f'{r:.2f}' for r in item_ratios)}; "
        f"median {statistics.median(item_ratios):.2f}x"
    )
    print(
        f"DataLoader samples/s, median: all {statistics.median(loader[base]):.1f}, one camera {statistics.median(loader[cand]):.1f}"
    )
    print(
        f"DataLoader speed-up, per round: {', '.join(f'{r:.2f}' for r in loader_ratios)}; "
        f"median {statistics.median(loader_ratios):.2f}x"
    )


if __name__ == "__main__":
    main()
