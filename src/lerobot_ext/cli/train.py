"""``lerobot-train-ext``: upstream ``lerobot-train`` with lerobot-ext's config, seams and plugins.

Every ``lerobot-train`` flag works unchanged; the extension's fields are listed by ``--help``.
``lerobot-train-ext --plugins [--json]`` lists the loaded plugins instead of training.

Public for plugins (e.g. one that continues a run, as ``long_runs``' ``--auto_resume`` does):
:func:`command_flags` - the flags the running command sets - and :func:`resume_config` /
:func:`parse_config` - a config parsed exactly as ``lerobot-train`` parses its command line.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from lerobot_ext.config import ExtTrainPipelineConfig, check_saved_fields
from lerobot_ext.console import exit_code, setup_console_logging
from lerobot_ext.errors import ConfigError
from lerobot_ext.plugins import load_plugins
from lerobot_ext.video_backend import quiet_torchcodec_fallback

# The normalised arguments of the lerobot-train-ext command this process runs (command_flags).
_COMMAND: list[str] = []


def command_flags() -> dict[str, str]:
    """The flags the ``lerobot-train-ext`` command running in this process sets, as typed.

    ``{dotted name: value text}``, e.g. ``{"steps": "5000", "policy.path": "lerobot/pi0"}``,
    after lerobot-ext's normalisation (``--name value`` and bare switches read as ``--name=value``;
    a flag given twice counts once, with its last value). Only what the command line says: not the
    values of a ``--config_path`` file nor the defaults. Empty before a command was parsed (e.g. in
    ``lerobot-ext inspect``). Valid from ``configure`` on.
    """
    from lerobot_ext.cli.argv import flag_values

    return flag_values(_COMMAND)


def resume_config(
    train_config: Path, config_class: type[ExtTrainPipelineConfig], overrides: Sequence[str] = ()
) -> ExtTrainPipelineConfig:
    """The config of ``--resume=true --config_path=<train_config> <overrides>``, as lerobot-train
    parses that command line (the saved run's config, with ``overrides`` - ``--name=value`` flags -
    applied on top).

    Like :func:`parse_config`, it makes that command line the process's ``sys.argv``: upstream's
    ``validate()`` reads ``--config_path`` back from it when the run starts. So parse the config
    the run will train last - a ``configure`` hook returns it.
    """
    return parse_config(["--resume=true", f"--config_path={train_config}", *overrides], config_class)


def parse_config(argv: Sequence[str], config_class: type[ExtTrainPipelineConfig]) -> ExtTrainPipelineConfig:
    """Parse ``argv`` (``--name=value`` flags) exactly as upstream's ``@parser.wrap()`` does,
    into ``config_class``.

    Upstream's parser also reads ``sys.argv`` later (``--policy.path``, ``--config_path`` in
    ``validate()``), so ``sys.argv`` is set to ``argv`` (after the program name) for the rest of
    the run: the last config parsed is the one the run must train. A value the config refuses is
    a :class:`~lerobot_ext.errors.ConfigError` naming it.
    """
    from lerobot.configs import parser

    def _parse(cfg):  # type: ignore[no-untyped-def]
        return cfg

    # parser.wrap reads the config class from the real annotation object (this module defers
    # annotations to strings).
    _parse.__annotations__ = {"cfg": config_class}
    sys.argv = [sys.argv[0] if sys.argv else "lerobot-train-ext", *argv]
    from draccus.utils import ParsingError

    try:
        return parser.wrap()(_parse)()
    except (SystemExit, ParsingError) as exc:
        # Upstream prints draccus' "Couldn't instantiate class ..." and exits, or (for a nested
        # config such as --ema.*) draccus' error escapes as is; the config's own error (which
        # field, which fix) is only in the exception chain.
        cause = _root_cause(exc if isinstance(exc, ParsingError) else exc.__context__)
        if cause is None or getattr(cause, "logged", False):
            raise
        raise ConfigError(f"invalid configuration: {cause}") from cause


def _root_cause(error: BaseException | None) -> BaseException | None:
    """The innermost exception under a draccus parsing error, or None if there is none."""
    from draccus.utils import ParsingError

    if not isinstance(error, ParsingError):
        return None
    while (inner := error.__cause__ or error.__context__) is not None:
        error = inner
    return None if isinstance(error, ParsingError) else error


def main(argv: Sequence[str] | None = None) -> int:
    setup_console_logging()
    return exit_code(lambda: _train(list(sys.argv[1:] if argv is None else argv)))


def _train(args: list[str]) -> None:
    from lerobot_ext.cli.argv import check_unknown_flags, normalize_argv, plugin_fields_help
    from lerobot_ext.cli.listing import print_plugins

    _COMMAND.clear()
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
    _COMMAND[:] = args
    if {"--help", "-h"} & set(args):
        try:
            parse_config(args, config_class)
        finally:
            print(plugin_fields_help(config_class))
    check_unknown_flags(args, config_class, host.not_loaded())
    config_path = command_flags().get("config_path")
    if config_path is not None:
        check_saved_fields(Path(config_path), config_class, host.plugin_names(), host.not_loaded())
    cfg = parse_config(args, config_class)

    from lerobot_ext.training import run_training

    run_training(cfg, host)


if __name__ == "__main__":
    sys.exit(main())
