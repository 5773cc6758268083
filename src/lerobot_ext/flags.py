"""Reading and checking flag values in a plugin's ``configure`` (public for plugins)."""

from __future__ import annotations

from collections.abc import Sequence

from lerobot_ext.errors import ConfigError


def check_name_list(flag: str, names: Sequence[str], example: str) -> None:
    """Refuse a list-of-names flag (``--<flag>=[a,b]``) with an empty, comma-holding or blank-padded
    entry - what ``--<flag>=[a, b]`` or ``--<flag>=a,,b`` parse to - naming the entries and showing
    ``example`` as the way to write it."""
    bad = [name for name in names if not name or "," in name or name != name.strip()]
    if bad:
        raise ConfigError(
            f"--{flag} has malformed entries {bad}; write the list in brackets without spaces: --{flag}={example}"
        )


#: The spellings of true read in a flag's raw text and in environment variables (LEROBOT_EXT_STRICT_PLUGINS).
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})


def is_true(text: str | None) -> bool:
    """Whether a flag's raw text (a bare switch reads as ``true``) or an environment variable's
    means true; ``None``, a flag not given, is false."""
    return text is not None and text.strip().lower() in TRUE_WORDS


def flag_values(args: Sequence[str]) -> dict[str, str]:
    """``{dotted name: value text}`` of the ``--name=value`` flags in normalised ``args``, in the
    order given; a flag given twice counts once, with its last value (as the parser reads it)."""
    out: dict[str, str] = {}
    for arg in args:
        if arg.startswith("--"):
            name, separator, value = arg[2:].partition("=")
            if separator:
                out.pop(name, None)
                out[name] = value
    return out
