"""Command-line normalisation that draccus does not do on its own.

* A bare boolean flag of ours means ``=true``: ``--force_action_keep_dims``.
* A sub-config with an ``enable`` switch takes the switch directly: ``--profile``,
  ``--profile=false`` become ``--profile.enable=true|false``.
* A flag whose first segment is no config field is an error that names it and suggests the
  closest field, instead of draccus's 200-line usage dump.
"""

from __future__ import annotations

import dataclasses
import difflib
import typing
from collections.abc import Sequence

from lerobot_ext.config import ExtTrainPipelineConfig, extension_fields
from lerobot_ext.errors import UnknownFlagError

_BOOL_WORDS = {"true", "false", "yes", "no", "1", "0", "on", "off"}
# Flags upstream's parser understands that are not fields of the config.
_PARSER_FLAGS = {"config_path", "help"}


def _split(arg: str) -> tuple[str, str | None]:
    name, sep, value = arg[2:].partition("=")
    return name, (value if sep else None)


def _switches() -> tuple[set[str], set[str]]:
    """(our top-level bool fields, our sub-configs that have an ``enable`` bool)."""
    hints = typing.get_type_hints(ExtTrainPipelineConfig)
    bools, enables = set(), set()
    for f in extension_fields():
        hint = hints[f.name]
        if hint is bool:
            bools.add(f.name)
        elif dataclasses.is_dataclass(hint) and "enable" in {sub.name for sub in dataclasses.fields(hint)}:
            enables.add(f.name)
    return bools, enables


def switches_help() -> str:
    """The lines ``--help`` adds after draccus' usage, which lists ``--profile`` as a config file."""
    bools, enables = _switches()
    lines = ["", "lerobot-ext switches (a bare flag means true):"]
    lines += [f"  --{name}[=true|false]" for name in sorted(bools)]
    lines += [f"  --{name}[=true|false]   same as --{name}.enable=true|false" for name in sorted(enables)]
    return "\n".join(lines)


def known_top_level_names(config_class: type = ExtTrainPipelineConfig) -> set[str]:
    return {f.name for f in dataclasses.fields(config_class)} | _PARSER_FLAGS


def check_unknown_flags(args: Sequence[str], config_class: type = ExtTrainPipelineConfig) -> None:
    """Raise :class:`UnknownFlagError` for a ``--flag`` whose first segment is not a field."""
    known = known_top_level_names(config_class)
    for arg in args:
        if not arg.startswith("--") or arg == "--":
            continue
        name, _ = _split(arg)
        head = name.split(".", 1)[0]
        if head in known:
            continue
        close = difflib.get_close_matches(head, sorted(known), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join('--' + c for c in close)}?" if close else ""
        raise UnknownFlagError(
            f"unknown flag --{name}: neither lerobot-train nor lerobot-ext has a field '{head}'{hint} "
            "(`lerobot-train-ext --help` lists every flag)"
        )


def normalize_argv(args: Sequence[str]) -> list[str]:
    """Rewrite our boolean switches into the ``--name=value`` form draccus accepts."""
    bools, enables = _switches()
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if not arg.startswith("--"):
            out.append(arg)
            continue
        name, value = _split(arg)
        if name not in bools and name not in enables:
            out.append(arg)
            continue
        if value is None and i < len(args) and args[i].lower() in _BOOL_WORDS:
            value = args[i]  # the space-separated form: --profile true
            i += 1
        value = "true" if value is None else value
        target = f"{name}.enable" if name in enables else name
        out.append(f"--{target}={value}")
    return out
