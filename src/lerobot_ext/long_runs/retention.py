"""``--keep_last_checkpoints=N``: keep the newest N step checkpoints (and whatever ``last`` points
to); older ones are removed only once a newer one is complete on disk."""

from __future__ import annotations

import shutil
from pathlib import Path

from lerobot_ext.console import get_logger

log = get_logger("long_runs")


def step_checkpoints(checkpoints: Path) -> list[Path]:
    """Complete step checkpoints (``000123/``), oldest first; partial saves are not counted."""
    if not checkpoints.is_dir():
        return []
    found = [p for p in checkpoints.iterdir() if p.is_dir() and not p.is_symlink() and p.name.isdigit()]
    return sorted(found, key=lambda p: int(p.name))


def prune(checkpoints: Path, keep: int) -> list[Path]:
    """Remove all but the newest ``keep`` step checkpoints; returns what was removed."""
    last = checkpoints / "last"
    protected = last.resolve() if last.exists() else None
    removed = []
    for old in step_checkpoints(checkpoints)[:-keep] if keep > 0 else []:
        if protected is not None and old.resolve() == protected:
            continue
        shutil.rmtree(old)
        removed.append(old)
    if removed:
        log.info("--keep_last_checkpoints=%s: removed %s", keep, ", ".join(p.name for p in removed))
    return removed
