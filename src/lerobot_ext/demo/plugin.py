"""Built-in plugin ``demo``: the ``lerobot-ext demo-dataset`` command (through ``register_commands``)."""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from typing import Any

from lerobot_ext.plugins import hookimpl


def plugin_layouts() -> dict[str, tuple[Callable[..., Any], str]]:
    """``{name: (write, help)}`` of the layouts other plugins add (``register_demo_layouts``)."""
    from lerobot_ext.demo import LAYOUTS
    from lerobot_ext.errors import PluginConflictError
    from lerobot_ext.plugins import current_hooks

    found: dict[str, tuple[Callable[..., Any], str]] = {}

    def register(name: str, write: Callable[..., Any], help: str = "") -> None:
        if name in LAYOUTS or name in found:
            raise PluginConflictError(
                f"demo layout '{name}' is registered twice; uninstall one of its plugins"
            )
        found[name] = (write, help)

    hooks = current_hooks()
    if hooks is not None and hasattr(hooks, "register_demo_layouts"):
        hooks.register_demo_layouts(register=register)
    return found


def _configure(parser: argparse.ArgumentParser) -> None:
    from lerobot_ext.demo import ACTION_ORDERS, LAYOUTS

    extra = plugin_layouts()
    parser.description = "Write a small, learnable LeRobot v3.0 dataset with lerobot's own writer."
    if extra:
        parser.epilog = "layouts from plugins: " + "; ".join(
            f"{name}: {help}" for name, (_, help) in extra.items()
        )
    parser.add_argument("--layout", choices=[*LAYOUTS, *extra], required=True)
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

    from lerobot_ext.demo import LAYOUTS, write_demo_dataset

    datasets.disable_progress_bars()
    if args.layout in LAYOUTS:
        write = functools.partial(
            write_demo_dataset, args.layout, action_order=args.action_order, depth=args.depth
        )
    else:
        write, _ = plugin_layouts()[args.layout]
    root = write(
        args.root,
        episodes=args.episodes,
        frames=args.frames,
        image_size=args.image_size,
        seed=args.seed,
        overwrite=args.overwrite,
    )
    print(f"wrote {args.layout} demo dataset to {root}")
    return 0


@hookimpl
def register_hookspecs(register: Callable[[object], None]) -> None:
    from lerobot_ext.demo import hookspecs

    register(hookspecs)


@hookimpl
def register_commands(register: Callable[..., None]) -> None:
    register("demo-dataset", "write a small, learnable LeRobot v3.0 demo dataset", _configure, _run)
