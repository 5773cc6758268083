"""``lerobot-train-ext``: upstream ``lerobot-train`` with lerobot-ext's config, seams and plugins.

Every ``lerobot-train`` flag works unchanged; the extension's fields are listed by ``--help``.
``lerobot-train-ext --plugins [--json]`` lists the loaded plugins instead of training.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from lerobot_ext.argv import check_unknown_flags, normalize_argv, plugin_fields_help
from lerobot_ext.cli.listing import print_plugins
from lerobot_ext.config import check_saved_fields
from lerobot_ext.console import exit_code, setup_console_logging
from lerobot_ext.context import RunContext
from lerobot_ext.dispatch import hooks_of, load_plugins
from lerobot_ext.runner import run_training
from lerobot_ext.video_backend import quiet_torchcodec_fallback


def main(argv: Sequence[str] | None = None) -> int:
    setup_console_logging()
    return exit_code(lambda: _train(list(sys.argv[1:] if argv is None else argv)))


def _train(args: list[str]) -> None:
    host = load_plugins()
    if "--plugins" in args:
        print_plugins(host, as_json="--json" in args)
        return
    quiet_torchcodec_fallback()
    # What stock lerobot-train does first: import lerobot_policy_* & co. distributions.
    from lerobot.utils.import_utils import register_third_party_plugins

    register_third_party_plugins()
    config_class = host.config_class
    args = normalize_argv(args, config_class)
    hooks = hooks_of(host)
    context = RunContext("train", hooks, argv=args, config_class=config_class)
    if {"--help", "-h"} & set(args):
        try:
            context.parse_config(args)
        finally:
            print(plugin_fields_help(config_class))
    check_unknown_flags(args, config_class, host.not_loaded())
    config_path = context.flags.get("config_path")
    if config_path is not None:
        check_saved_fields(Path(config_path), config_class, host.names_with_status(), host.not_loaded())
    cfg = context.parse_config(args)
    run_training(cfg, context, hooks)


if __name__ == "__main__":
    sys.exit(main())
