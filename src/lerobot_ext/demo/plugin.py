"""Built-in plugin ``demo``: the ``lerobot-ext demo-dataset`` command (through ``register_commands``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from lerobot_ext.plugins import hookimpl


def _configure(parser: argparse.ArgumentParser) -> None:
    from lerobot_ext.demo import ACTION_ORDERS, LAYOUTS

    parser.description = "Write a small, learnable LeRobot v3.0 dataset with lerobot's own writer."
    parser.add_argument("--layout", choices=LAYOUTS, required=True)
    parser.add_argument("--root", required=True, help="folder to create")
    parser.add_argument("--episodes", type=int, default=8)
    parser.add_argument("--frames", type=int, default=40, help="frames per episode")
    parser.add_argument(
        "--image-size", type=int, default=64, help="camera height and width (ResNets need > 32)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--action-order", choices=ACTION_ORDERS, default="ee-first", help="robocasa only")
    parser.add_argument("--depth", action="store_true", help="gr2 only: add the head camera's depth video")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --root")


def _run(args: argparse.Namespace) -> int:
    import datasets

    from lerobot_ext.demo import write_demo_dataset

    datasets.disable_progress_bars()
    root = write_demo_dataset(
        args.layout,
        args.root,
        episodes=args.episodes,
        frames=args.frames,
        image_size=args.image_size,
        seed=args.seed,
        action_order=args.action_order,
        overwrite=args.overwrite,
        depth=args.depth,
    )
    print(f"wrote {args.layout} demo dataset to {root}")
    return 0


@hookimpl
def register_commands(register: Callable[..., None]) -> None:
    register("demo-dataset", "write a small, learnable LeRobot v3.0 demo dataset", _configure, _run)
