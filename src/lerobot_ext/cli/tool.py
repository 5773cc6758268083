"""``lerobot-ext``: helper commands around lerobot-train-ext.

lerobot-ext demo-dataset --layout robocasa --root DIR   write a small demo dataset
lerobot-ext inspect DIR [--state_filtered_keys=[...]] [--action_keep_dims=N]
lerobot-ext plugins [--json]                            same as lerobot-train-ext --plugins
lerobot-ext doctor [--json] [-v]                        is the installed lerobot supported?
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence

from lerobot_ext.console import get_logger, setup_console_logging
from lerobot_ext.errors import LerobotExtError

log = get_logger("cli")


def _key_list(text: str) -> list[str]:
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return [part.strip() for part in text.split(",") if part.strip()]


def _parser() -> argparse.ArgumentParser:
    from lerobot_ext.demo import ACTION_ORDERS, LAYOUTS

    parser = argparse.ArgumentParser(prog="lerobot-ext", description="Helpers around lerobot-train-ext.")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo-dataset", help="write a small, learnable LeRobot v3.0 demo dataset")
    demo.add_argument("--layout", choices=LAYOUTS, required=True)
    demo.add_argument("--root", required=True, help="folder to create")
    demo.add_argument("--episodes", type=int, default=8)
    demo.add_argument("--frames", type=int, default=40, help="frames per episode")
    demo.add_argument(
        "--image-size", type=int, default=64, help="camera height and width (ResNets need > 32)"
    )
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--action-order", choices=ACTION_ORDERS, default="ee-first", help="robocasa only")
    demo.add_argument("--overwrite", action="store_true", help="replace an existing --root")

    inspect = sub.add_parser("inspect", help="explain a dataset's state/action layout")
    inspect.add_argument("root", help="the dataset's root folder (with meta/info.json)")
    inspect.add_argument("--robot_adapter", "--robot-adapter", default=None)
    inspect.add_argument("--state_filtered_keys", "--state-filtered-keys", type=_key_list, default=None)
    inspect.add_argument("--action_keep_dims", "--action-keep-dims", type=int, default=None)
    inspect.add_argument("--force_action_keep_dims", action="store_true")
    inspect.add_argument("--json", action="store_true", help="machine-readable output")
    inspect.add_argument("--summary", action="store_true", help="groups only, without the per-dim table")

    plugins = sub.add_parser("plugins", help="list the loaded lerobot-ext plugins")
    plugins.add_argument("--json", action="store_true")

    doctor = sub.add_parser(
        "doctor", help="check that the installed lerobot has every name lerobot-ext relies on"
    )
    doctor.add_argument("--json", action="store_true", help="machine-readable output")
    doctor.add_argument("-v", "--verbose", action="store_true", help="say what each name is used for")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    setup_console_logging()
    try:
        if args.command == "demo-dataset":
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
            )
            print(f"wrote {args.layout} demo dataset to {root}")
            return 0

        from lerobot_ext.plugins import load_plugins

        host = load_plugins()
        if args.command == "doctor":
            from lerobot_ext.cli import doctor

            return doctor.main(as_json=args.json, verbose=args.verbose, host=host)
        if args.command == "plugins":
            from lerobot_ext.cli.listing import print_plugins

            print_plugins(host, as_json=args.json)
            return 0

        from lerobot_ext.inspect_dataset import format_report, inspect_dataset

        # The report itself lists what the transforms would do; their run-time log lines would repeat it.
        get_logger("transforms").setLevel("WARNING")

        report = inspect_dataset(
            args.root,
            host,
            robot_adapter=args.robot_adapter,
            state_filtered_keys=args.state_filtered_keys,
            action_keep_dims=args.action_keep_dims,
            force_action_keep_dims=args.force_action_keep_dims,
        )
        if args.json:
            print(json.dumps(dataclasses.asdict(report), indent=2))
        else:
            print(format_report(report, per_dim=not args.summary))
        return 0
    except LerobotExtError as exc:
        log.error("%s", exc)
        return 2


if __name__ == "__main__":
    sys.exit(main())
