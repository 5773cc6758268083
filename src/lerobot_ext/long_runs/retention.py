"""``--keep_last_checkpoints=N``: keep the run's newest N step checkpoints.

Called once the checkpoint of ``step`` is complete (every process passed the barrier after the
save). What is kept, so that nothing the user may still need goes:

* the checkpoint just saved, and ``N - 1`` more: the newest complete ones *older* than it;
* whatever ``checkpoints/last`` points to;
* every checkpoint *newer* than the one just saved: those are left from before a manual rollback
  (``last`` moved back to an older step, the run continued from there), not this line of
  training - the run replaces each one only when it saves that step again;
* partial saves (``<step>.partial/``) are not checkpoints: the save that writes them removes them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from lerobot_ext import get_logger

log = get_logger("long_runs")


def step_checkpoints(checkpoints: Path) -> list[Path]:
    """Complete step checkpoints (``000123/``), oldest first; partial saves are not counted."""
    if not checkpoints.is_dir():
        return []
    found = [p for p in checkpoints.iterdir() if p.is_dir() and not p.is_symlink() and p.name.isdigit()]
    return sorted(found, key=lambda p: int(p.name))


def prune(checkpoints: Path, keep: int, step: int) -> list[Path]:
    """Remove the step checkpoints older than ``step`` beyond the newest ``keep`` (see the module
    docstring); returns what was removed."""
    last = checkpoints / "last"
    protected = last.resolve() if last.exists() else None
    line = [p for p in step_checkpoints(checkpoints) if int(p.name) <= step]
    removed = []
    for old in line[:-keep] if keep > 0 else []:
        if protected is not None and old.resolve() == protected:
            continue
        shutil.rmtree(old)
        removed.append(old)
    if removed:
        log.info("--keep_last_checkpoints=%s: removed %s", keep, ", ".join(p.name for p in removed))
    return removed
