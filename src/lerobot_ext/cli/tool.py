"""``lerobot-ext``: helper commands around lerobot-train-ext.

lerobot-ext inspect DIR [DIR...] [--<flag>=...]    explain a dataset's layout, what the flags would do, and whether datasets mix
lerobot-ext plugins [--json]                       same as lerobot-train-ext --plugins
lerobot-ext doctor [--json] [-v]                   is the installed lerobot supported?
lerobot-ext <command> ...                          the commands plugins add (register_commands)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from typing import Any

from lerobot_ext.argv import plugin_fields_help
from lerobot_ext.cli import doctor
from lerobot_ext.cli.listing import print_plugins
from lerobot_ext.console import exit_code, get_logger, setup_console_logging
from lerobot_ext.context import RunContext
from lerobot_ext.dispatch import accepts_context, hooks_of, load_plugins
from lerobot_ext.host import PluginHost
from lerobot_ext.inspect_dataset import compare_with_flags, format_report, inspect_with_flags
from lerobot_ext.video_backend import quiet_torchcodec_fallback

log = get_logger("cli")


def _parser(host: PluginHost, context: RunContext) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lerobot-ext", description="Helpers around lerobot-train-ext.")
    sub = parser.add_subparsers(dest="command", required=True)

    inspect = sub.add_parser(
        "inspect",
        help="explain a dataset's state/action layout, and what the plugins' flags would do to it",
        description="Any flag a loaded plugin declares shows what it would leave.",
        epilog=_plugin_flags_epilog(host),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    inspect.add_argument(
        "roots",
        nargs="+",
        metavar="root",
        help="the dataset's root folder (with meta/info.json); several: also whether they can be trained "
        "together (--dataset.mix) and which flags make them so",
    )
    inspect.add_argument("--json", action="store_true", help="machine-readable output")
    inspect.add_argument("--summary", action="store_true", help="groups only, without the per-dim table")

    plugins = sub.add_parser("plugins", help="list the loaded lerobot-ext plugins")
    plugins.add_argument("--json", action="store_true")

    doctor = sub.add_parser(
        "doctor", help="check that the installed lerobot has every name lerobot-ext relies on"
    )
    doctor.add_argument("--json", action="store_true", help="machine-readable output")
    doctor.add_argument("-v", "--verbose", action="store_true", help="say what each name is used for")

    for name, command in host.registry.commands.items():
        subparser = sub.add_parser(name, help=f"{command.help} [plugin {command.plugin}]")
        if accepts_context(command.configure):
            command.configure(subparser, context)
        else:
            command.configure(subparser)
    return parser


def _plugin_flags_epilog(host: PluginHost) -> str:
    """The loaded plugins' flags, listed as ``lerobot-train-ext --help`` lists them."""
    if not host.registry.config_fields:
        return "no loaded plugin declares a flag"
    return plugin_fields_help(host.config_class).strip("\n")


def _inspect(host: PluginHost, args: argparse.Namespace, flags: list[str]) -> None:
    # The report lists what the plugins would do; the info lines they log in a run would repeat
    # it. Warnings (and errors) still show.
    logger = get_logger()
    level = logger.level
    logger.setLevel("WARNING")
    hooks = hooks_of(host)
    try:
        together = args.roots if len(args.roots) > 1 else None
        reports = [inspect_with_flags(hooks, root, flags, together) for root in args.roots]
        mix = compare_with_flags(hooks, args.roots, flags) if len(args.roots) > 1 else None
    finally:
        logger.setLevel(level)
    if args.json:
        payload: Any = (
            dataclasses.asdict(reports[0])
            if mix is None
            else {"datasets": [dataclasses.asdict(r) for r in reports], "mix": mix}
        )
        print(json.dumps(payload, indent=2))
        return
    print("\n\n".join(format_report(report, per_dim=not args.summary) for report in reports))
    if mix is not None:
        print("\ntrained together:")
        print("\n".join(f"  {line}" for line in mix))


def main(argv: Sequence[str] | None = None) -> int:
    setup_console_logging()
    argv = list(sys.argv[1:] if argv is None else argv)

    def command() -> int:
        host = load_plugins()
        quiet_torchcodec_fallback()
        # What a plugin's command gets as its RunContext: its name and the flags after it.
        context = RunContext(
            argv[0] if argv else "",
            hooks_of(host),
            argv=list(argv[1:]),
            config_class=host.config_class,
        )
        parser = _parser(host, context)
        args, rest = parser.parse_known_args(argv)
        if rest and args.command != "inspect":
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        if args.command == "doctor":
            return doctor.main(as_json=args.json, verbose=args.verbose, host=host)
        if args.command == "plugins":
            print_plugins(host, as_json=args.json)
            return 0
        if args.command == "inspect":
            _inspect(host, args, rest)
            return 0
        plugin_command = host.registry.commands[args.command]
        if accepts_context(plugin_command.run):
            return plugin_command.run(args, context) or 0
        return plugin_command.run(args) or 0

    return exit_code(command)


if __name__ == "__main__":
    sys.exit(main())
