"""Checks a plugin runs on its own flags in ``configure`` (public for plugins)."""

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
