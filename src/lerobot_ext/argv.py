"""Command-line normalisation that draccus does not do on its own.

* A bare boolean flag of a plugin means ``=true``: ``--force_action_keep_dims``.
* A sub-config with an ``enable`` switch takes the switch directly: ``--profile``,
  ``--profile=false`` become ``--profile.enable=true|false``.
* ``--name value`` becomes ``--name=value``: draccus and upstream's parser read both, and after
  this so does everything else in one way (the checks here, the plugins through
  ``RunContext.flags``).
* A flag whose first segment is no config field is an error that names it and suggests the
  closest field, instead of draccus's 200-line usage dump.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Sequence

from lerobot_ext.config import extension_fields, nested_extension_fields
from lerobot_ext.errors import UnknownFlagError

_BOOL_WORDS = {"true", "false", "yes", "no", "1", "0", "on", "off"}
# Flags upstream's parser understands that are not fields of the config.
_PARSER_FLAGS = {"config_path", "help"}
# Flags of lerobot-train-ext that never take a value (the next word is not theirs).
_VALUELESS = {"help", "plugins", "json"}


def _split(arg: str) -> tuple[str, str | None]:
    name, sep, value = arg[2:].partition("=")
    return name, (value if sep else None)


def _switches(config_class: type) -> tuple[set[str], set[str]]:
    """(the plugins' top-level bool fields, their sub-configs that have an ``enable`` bool)."""
    bools, enables = set(), set()
    bools |= {name for name, f in nested_extension_fields(config_class) if f.type is bool}
    for f in extension_fields(config_class):
        hint = f.type
        if hint is bool:
            bools.add(f.name)
        elif dataclasses.is_dataclass(hint) and "enable" in {sub.name for sub in dataclasses.fields(hint)}:
            enables.add(f.name)
    return bools, enables


def _type_name(hint: object) -> str:
    if isinstance(hint, type):
        return hint.__name__
    return str(hint).replace("typing.", "")


def plugin_fields_help(config_class: type) -> str:
    """The lines ``--help`` adds after draccus' usage: every plugin field with its plugin.

    Draccus takes help texts from source comments, which a field registered through
    ``register_config_fields`` does not have, and lists ``--profile`` as a config file.
    """
    bools, enables = _switches(config_class)
    lines = ["", "lerobot-ext flags (declared by plugins; `lerobot-train-ext --plugins` lists them):"]
    for f in extension_fields(config_class):
        plugin = f.metadata.get("plugin", "?")
        lines.append(f"  --{f.name}: {_type_name(f.type)}  [plugin {plugin}]")
        if f.metadata.get("help"):
            lines.append(f"      {f.metadata['help']}")
        if dataclasses.is_dataclass(f.type):
            for sub in dataclasses.fields(f.type):
                lines.append(f"      --{f.name}.{sub.name}: {_type_name(sub.type)} (default {sub.default!r})")
    for name, f in nested_extension_fields(config_class):
        lines.append(f"  --{name}: {_type_name(f.type)}  [plugin {f.metadata.get('plugin', '?')}]")
        if f.metadata.get("help"):
            lines.append(f"      {f.metadata['help']}")
    if bools or enables:
        lines += ["", "switches (a bare flag means true):"]
        lines += [f"  --{name}[=true|false]" for name in sorted(bools)]
        lines += [f"  --{name}[=true|false]   same as --{name}.enable=true|false" for name in sorted(enables)]
    return "\n".join(lines)


def known_top_level_names(config_class: type) -> set[str]:
    return {f.name for f in dataclasses.fields(config_class)} | _PARSER_FLAGS


def check_unknown_flags(
    args: Sequence[str], config_class: type, not_loaded: Sequence[str] = (), plugin_fields_only: bool = False
) -> None:
    """Raise :class:`UnknownFlagError` for a ``--flag`` whose first segment is not a field."""
    known = (
        {f.name for f in extension_fields(config_class)}
        if plugin_fields_only
        else known_top_level_names(config_class)
    )
    nested = {name for name, _ in nested_extension_fields(config_class)}
    for arg in args:
        if not arg.startswith("--") or arg == "--":
            continue
        name, _ = _split(arg)
        head = name.split(".", 1)[0]
        if head in known or name in nested:
            continue
        close = difflib.get_close_matches(head, sorted(known), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join('--' + c for c in close)}?" if close else ""
        unloaded = (
            f"; installed plugins that are not loaded (their flags are unknown too): {', '.join(not_loaded)}"
            if not_loaded
            else ""
        )
        raise UnknownFlagError(
            f"unknown flag --{name}: neither lerobot-train nor a loaded lerobot-ext plugin has a field "
            f"'{head}'{hint} (`lerobot-train-ext --help` lists every flag){unloaded}"
        )


def _string_lists(config_class: type) -> set[str]:
    """The plugins' ``list[str]`` fields."""
    out = set()
    for name, f in [(f.name, f) for f in extension_fields(config_class)] + nested_extension_fields(
        config_class
    ):
        hint = f.type
        options = (
            typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
        )
        if any(typing.get_origin(o) is list and typing.get_args(o) == (str,) for o in options):
            out.add(name)
    return out


def _quoted_list(value: str) -> str:
    """``[a,b]`` -> ``["a","b"]``: upstream parses flags as JSON when it resumes from a
    ``train_config.json``, where ``[a,b]`` is not a list of strings (YAML, the other parser,
    reads both)."""
    inner = value.strip()
    if not (inner.startswith("[") and inner.endswith("]")) or '"' in inner:
        return value
    items = [item.strip() for item in inner[1:-1].split(",") if item.strip()]
    return "[" + ",".join(f'"{item}"' for item in items) + "]"


def normalize_argv(args: Sequence[str], config_class: type) -> list[str]:
    """Rewrite the flags into the ``--name=value`` form draccus accepts everywhere: the
    space-separated ``--name value`` is joined, boolean switches get their value, string lists
    get quoted items."""
    bools, enables = _switches(config_class)
    string_lists = _string_lists(config_class)
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if not arg.startswith("--"):
            out.append(arg)
            continue
        name, value = _split(arg)
        if (
            value is None
            and name not in bools | enables | _VALUELESS
            and i < len(args)
            and not args[i].startswith("--")
        ):
            value = args[i]  # the space-separated form: --steps 5000
            i += 1
            arg = f"--{name}={value}"
        if name in string_lists and value is not None:
            out.append(f"--{name}={_quoted_list(value)}")
            continue
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
