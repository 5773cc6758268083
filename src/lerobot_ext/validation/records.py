"""Where the measurements go: a CSV in the output folder, one file in each checkpoint, and the
``checkpoints/best`` link.

Each checkpoint carries its own measurement (``validation.json``, written while the checkpoint is
written, so it is part of the same atomic save). ``best`` is chosen from the files of the
checkpoints on disk every time one is saved: a resumed run (``--auto_resume``) and a run whose
old checkpoints ``--keep_last_checkpoints`` removed agree with what is there, with nothing kept
in memory. ``best`` is a relative link like upstream's ``last``, replaced atomically.
"""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path
from typing import Any

from lerobot_ext import step_checkpoints
from lerobot_ext.validation.action_error import ActionError

RECORD_FILE = "validation.json"
BEST_LINK = "best"
CSV_FILE = "validation.csv"


def write_record(checkpoint_dir: Path, step: int, measured: ActionError) -> None:
    record = {"step": step, "frames": measured.frames, **measured.as_row()}
    (Path(checkpoint_dir) / RECORD_FILE).write_text(json.dumps(record, indent=1) + "\n")


def read_record(checkpoint_dir: Path) -> dict[str, Any] | None:
    path = Path(checkpoint_dir) / RECORD_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def best_checkpoint(checkpoints: Path, metric: str) -> tuple[Path, float] | None:
    """The complete checkpoint with the lowest finite ``metric`` (the earliest on a tie)."""
    best: tuple[Path, float] | None = None
    for folder in step_checkpoints(checkpoints):
        record = read_record(folder)
        value = None if record is None else record.get(metric)
        if not isinstance(value, int | float) or not math.isfinite(value):
            continue
        if best is None or value < best[1]:
            best = (folder, float(value))
    return best


def point_best(checkpoints: Path, target: Path) -> bool:
    """Point ``checkpoints/best`` at ``target`` (relative, atomically); whether it moved."""
    link = checkpoints / BEST_LINK
    relative = target.relative_to(checkpoints)
    if link.is_symlink() and Path(os.readlink(link)) == relative:
        return False
    temporary = checkpoints / f".{BEST_LINK}.tmp"
    if temporary.is_symlink() or temporary.exists():
        temporary.unlink()
    temporary.symlink_to(relative)
    os.replace(temporary, link)
    return True


def append_csv(output_dir: Path, step: int, measured: ActionError) -> Path:
    """Add this measurement to ``<output_dir>/validation.csv`` (header on the first row; a resumed
    run appends, and a step measured again is written again - the last row of a step counts)."""
    path = Path(output_dir) / CSV_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    row = {"step": step, "frames": measured.frames, **measured.as_row()}
    new = not path.exists() or path.stat().st_size == 0
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    return path
