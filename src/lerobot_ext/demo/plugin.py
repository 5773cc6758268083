"""Built-in plugin ``demo``: the ``lerobot-ext demo-dataset`` command (through ``register_commands``),
and the ``register_demo_layouts`` hook (through ``register_hookspecs``) other plugins add layouts with."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from lerobot_ext import HookKind, RunContext, hookimpl
from lerobot_ext.demo import hookspecs, upstream_names
from lerobot_ext.demo.layouts import ACTION_ORDERS, OPTIONS, all_layouts, flag
from lerobot_ext.demo.tiny_smolvlm import FLAGS, write_tiny_smolvlm


def _configure(parser: argparse.ArgumentParser, run: RunContext) -> None:
    layouts = all_layouts(run.hooks)
    parser.description = "Write a small, learnable LeRobot v3.0 dataset with lerobot's own writer."
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = "layouts (each takes only the options listed; another is refused):\n" + "\n".join(
        f"  {layout.name} [plugin {layout.plugin}]: {layout.help}\n"
        f"      takes {', '.join(flag(option) for option in layout.takes) or 'no option'}"
        for layout in layouts.values()
    )
    parser.add_argument("--layout", choices=list(layouts), required=True)
    parser.add_argument("--root", required=True, help="folder to create")
    # No argparse defaults: an option given must be one the layout takes (see Layout.options).
    parser.add_argument("--episodes", type=int, help=f"default {OPTIONS['episodes']}")
    parser.add_argument("--frames", type=int, help=f"frames per episode (default {OPTIONS['frames']})")
    parser.add_argument(
        "--image-size",
        type=int,
        help=f"camera height and width (ResNets need > 32; default {OPTIONS['image_size']})",
    )
    parser.add_argument("--seed", type=int, help=f"default {OPTIONS['seed']}")
    parser.add_argument("--action-order", choices=ACTION_ORDERS, help=f"default {OPTIONS['action_order']}")
    parser.add_argument("--depth", action="store_true", help="add the head camera's depth video")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --root")
    parser.add_argument(
        "--noise",
        type=float,
        help="scripted experts: the executed motion's N(0, noise) per axis, DART-style (default: the layout's)",
    )
    parser.set_defaults(demo_layouts=layouts)  # _run writes with the layouts listed here


def _run(args: argparse.Namespace) -> int:
    import datasets

    layout = args.demo_layouts[args.layout]
    datasets.disable_progress_bars()
    root = layout.write_dataset(args.root, {option: getattr(args, option) for option in OPTIONS})
    print(f"wrote {args.layout} demo dataset to {root}")
    return 0


@hookimpl
def register_upstream_names(register: Callable[..., None]) -> None:
    upstream_names.declare(register)


@hookimpl
def register_hookspecs(register: Callable[[object], None]) -> None:
    register(hookspecs, kinds={"register_demo_layouts": HookKind.REGISTER})


@hookimpl
def register_commands(register: Callable[..., None]) -> None:
    register("demo-dataset", "write a small, learnable LeRobot v3.0 demo dataset", _configure, _run)
    register(
        "demo-vlm",
        "write a tiny, randomly initialised SmolVLM folder offline (to try SmolVLA without the Hub)",
        _configure_vlm,
        _run_vlm,
    )


def _configure_vlm(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", help="the folder to write (config, tokenizer, processor; no weights)")


def _run_vlm(args: argparse.Namespace) -> int:
    folder = write_tiny_smolvlm(Path(args.folder))
    print(f"wrote a tiny SmolVLM to {folder}; train SmolVLA on it with")
    print(f"  --policy.type=smolvla --policy.vlm_model_name={folder} {' '.join(FLAGS)}")
    return 0
