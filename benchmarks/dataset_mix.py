"""What ``--dataset.mix`` costs the loader: the same frames read as two mixed datasets vs as one.

1. Records demo episodes once (``gr2``: one camera, video-decoded; ``bimodal``: no camera, Arrow
   rows only) and writes them as one dataset and as two (the first half of the episodes, the rest)
   with lerobot's writer: the same frames, checked item for item.
2. Loads them as a training run does, with a flow policy's time windows (2 observation steps,
   16 action steps): the one dataset as upstream's ``LeRobotDataset``; the two through the
   ``dataset_mix`` plugin's ``MixedDataset`` inside the core's ``DatasetWithMetadata`` view.
3. ``dataset[i]``: the same random frames read from both, position ``i`` of the mix being frame
   ``i`` of the one dataset, in alternating rounds; the per-item time of each, and mix / one.
4. DataLoader throughput (``--batch_size``, ``--num_workers``): batches per second of both, in
   alternating rounds.

    python benchmarks/dataset_mix.py [--rounds 5] [--items 400] [--layouts gr2 bimodal]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DELTAS = {"observation": [-1, 0], "action": list(range(16))}


def write_three(layout: str, episodes: int, frames: int, work: Path) -> tuple[Path, Path, Path]:
    """The same recorded episodes written three times: all as one dataset, the first half, the rest."""
    import numpy as np

    from lerobot_ext import write_dataset
    from lerobot_ext.demo import bimodal, gr2

    rng = np.random.default_rng(0)
    if layout == "gr2":
        recorded = [gr2.episode(rng, frames, 64) for _ in range(episodes)]
        fps, robot, features = gr2.FPS, "fourier_gr2", gr2.features(64)
    else:
        recorded = [bimodal.episode(rng, frames, 1.0 if i % 2 == 0 else -1.0) for i in range(episodes)]
        fps, robot, features = bimodal.FPS, "point_mass", bimodal.features()
    half = episodes // 2
    roots = []
    for name, chosen in (("one", recorded), ("first", recorded[:half]), ("rest", recorded[half:])):
        root = work / f"{layout}_{name}"
        write_dataset(root, f"local/{root.name}", fps, robot, features, iter(chosen), "the task")
        roots.append(root)
    return roots[0], roots[1], roots[2]


def load(root: Path) -> Any:
    from lerobot.datasets.lerobot_dataset import LeRobotDataset, LeRobotDatasetMetadata

    meta = LeRobotDatasetMetadata(f"local/{root.name}", root=root)
    deltas = {
        key: [step / meta.fps for step in (DELTAS["action"] if key == "action" else DELTAS["observation"])]
        for key in meta.features
        if key == "action" or key.startswith("observation.")
    }
    return LeRobotDataset(f"local/{root.name}", root=root, delta_timestamps=deltas, video_backend="pyav")


def mixed(parts: list[Path]) -> Any:
    from lerobot_ext.dataset_mix.mixed_dataset import MixedDataset
    from lerobot_ext.dataset_view import DatasetWithMetadata

    mix = MixedDataset([load(p) for p in parts], [p.name for p in parts], [None] * len(parts))
    return DatasetWithMetadata(mix, mix.meta)


def per_item(dataset: Any, indices: list[int]) -> float:
    started = time.perf_counter()
    for index in indices:
        dataset[index]
    return (time.perf_counter() - started) / len(indices)


def throughput(dataset: Any, batches: int, batch_size: int, workers: int, seed: int) -> float:
    import torch

    generator = torch.Generator().manual_seed(seed)
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=True,
        num_workers=workers,
        generator=generator,
        drop_last=True,
        persistent_workers=workers > 0,
    )

    def endless() -> Any:
        while True:
            yield from loader

    iterator = endless()
    next(iterator)  # worker start-up is not the loader's steady state
    started = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches / (time.perf_counter() - started)


def compare(layout: str, args: argparse.Namespace, work: Path) -> None:
    one_root, *parts = write_three(layout, args.episodes, args.frames, work)
    one, mix = load(one_root), mixed(parts)
    assert len(one) == len(mix), (len(one), len(mix))
    for index in (0, len(one) // 2, len(one) - 1):  # the same frames, position for position
        a, b = one[index], mix[index]
        differ = [
            key
            for key in a
            if hasattr(a[key], "shape")
            and key not in ("index", "episode_index")
            and not (a[key] == b[key]).all()
        ]
        assert not differ, (index, differ)
    print(
        f"\n== {layout}: {len(one)} frames ({args.episodes} episodes), as one dataset and as 2 mixed (the same frames)"
    )
    rng = random.Random(0)
    ratios, one_times, mix_times = [], [], []
    for round_ in range(args.rounds):
        indices = [rng.randrange(len(one)) for _ in range(args.items)]
        order = [("one", one), ("mix", mix)] if round_ % 2 == 0 else [("mix", mix), ("one", one)]
        times = {name: per_item(dataset, indices) for name, dataset in order}
        one_times.append(times["one"])
        mix_times.append(times["mix"])
        ratios.append(times["mix"] / times["one"])
        print(
            f"  round {round_}: dataset[i] one {times['one'] * 1e3:.3f} ms, mix {times['mix'] * 1e3:.3f} ms, "
            f"mix/one {ratios[-1]:.4f}"
        )
    spread = statistics.stdev(ratios) / len(ratios) ** 0.5 if len(ratios) > 1 else 0.0
    print(
        f"  dataset[i]: one {statistics.median(one_times) * 1e3:.3f} ms, mix {statistics.median(mix_times) * 1e3:.3f} "
        f"ms; mix/one median {statistics.median(ratios):.4f}, mean {statistics.mean(ratios):.4f} +- {spread:.4f} (SE)"
    )
    rates: dict[str, list[float]] = {"one": [], "mix": []}
    for round_ in range(args.rounds):
        order = [("one", one), ("mix", mix)] if round_ % 2 == 0 else [("mix", mix), ("one", one)]
        for name, dataset in order:
            rates[name].append(throughput(dataset, args.batches, args.batch_size, args.num_workers, round_))
    loader_ratios = [m / o for m, o in zip(rates["mix"], rates["one"], strict=True)]
    print(
        f"  DataLoader (batch {args.batch_size}, {args.num_workers} workers): one "
        f"{statistics.median(rates['one']):.2f} batches/s, mix {statistics.median(rates['mix']):.2f}; "
        f"mix/one per round {', '.join(f'{r:.3f}' for r in loader_ratios)} "
        f"(median {statistics.median(loader_ratios):.3f})"
    )


def own_cost(rounds: int, items: int) -> None:
    """What the mix adds to an item, alone: a mix of two in-memory datasets whose items cost
    nothing to read, against reading the same items directly (through the same view)."""
    from lerobot_ext.dataset_mix.mixed_dataset import MixedDataset
    from lerobot_ext.dataset_view import DatasetWithMetadata

    class Items:
        def __init__(self, count: int, offset: int) -> None:
            self.items = [{"index": offset + i} for i in range(count)]
            self.meta = type("Meta", (), {})()

        def __len__(self) -> int:
            return len(self.items)

        def __getitem__(self, index: int) -> dict:
            return self.items[index]

    halves = [Items(320, 0), Items(320, 320)]
    whole = Items(640, 0)
    mix = MixedDataset.__new__(MixedDataset)  # the item path alone: no episode metadata to read
    mix.datasets, mix.layouts = halves, [None, None]
    mix.offsets = [0, 320, 640]
    direct, mixed_view = DatasetWithMetadata(whole, None), DatasetWithMetadata(mix, None)
    rng = random.Random(1)
    extra = []
    for _ in range(rounds):
        indices = [rng.randrange(640) for _ in range(items)]
        extra.append(per_item(mixed_view, indices) - per_item(direct, indices))
    print(
        f"\n== the mix's own cost per item (in-memory items, {rounds} rounds of {items}): "
        f"{statistics.median(extra) * 1e6:.2f} us (median; rounds {', '.join(f'{e * 1e6:.2f}' for e in extra)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--items", type=int, default=400, help="random dataset[i] reads per round")
    parser.add_argument("--batches", type=int, default=20, help="DataLoader batches timed per round")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--num_workers", type=int, default=2)
    parser.add_argument("--layouts", nargs="+", choices=["gr2", "bimodal"], default=["gr2", "bimodal"])
    parser.add_argument("--episodes", type=int, default=16)
    parser.add_argument("--frames", type=int, default=40)
    args = parser.parse_args()
    print(f"command: python benchmarks/dataset_mix.py {' '.join(sys.argv[1:])}".rstrip())
    own_cost(args.rounds, 20000)
    with tempfile.TemporaryDirectory() as tmp:
        for layout in args.layouts:
            compare(layout, args, Path(tmp))


if __name__ == "__main__":
    main()
