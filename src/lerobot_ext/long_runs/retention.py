"""``--keep_last_checkpoints=N``: keep the run's newest N step checkpoints.

Called once the checkpoint of ``step`` is complete (every process passed the barrier after the
save). What is kept, so that nothing the user may still need goes:

* the checkpoint just saved, and ``N - 1`` more: the newest complete ones *older* than it;
* whatever a link in ``checkpoints/`` points to: ``last``, the ``validation`` plugin's ``best``,
  or a link of the user's own;
* every checkpoint *newer* than the one just saved: those are left from before a manual rollback
  (``last`` moved back to an older step, the run continued from there), not this line of
  training - the run replaces each one only when it saves that step again;
* partial saves (``<step>.partial/``) are not checkpoints: the save that writes them removes them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from lerobot_ext import get_logger, linked_checkpoints, step_checkpoints

log = get_logger("long_runs")


def prune(checkpoints: Path, keep: int, step: int) -> list[Path]:
    """Remove the step checkpoints older than ``step`` beyond the newest ``keep`` (see the module
    docstring); returns what was removed."""
    protected = set(linked_checkpoints(checkpoints).values())
    line = [p for p in step_checkpoints(checkpoints) if int(p.name) <= step]
    removed = []
    for old in line[:-keep] if keep > 0 else []:
        if old.resolve() in protected:
            continue
        shutil.rmtree(old)
        removed.append(old)
    if removed:
        log.info("--keep_last_checkpoints=%s: removed %s", keep, ", ".join(p.name for p in removed))
    return removed
