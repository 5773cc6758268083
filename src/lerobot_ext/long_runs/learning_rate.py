"""``--optimizer.lr`` in a continued run: the learning rate it says, not the checkpoint's.

Upstream's resume builds the optimizer with the config's ``optimizer.lr`` and then loads the
checkpoint's optimizer and scheduler state, which carry the old rate: a new ``--optimizer.lr``
(``--resume`` or ``--auto_resume``) would be silently ignored. Once that state is loaded
(``optimizer_ready``), every parameter group's rate and the scheduler's base rates are scaled by
new / old, so the schedule's shape and the groups' ratios (a backbone's smaller rate) are kept.
"""

from __future__ import annotations

import math
from typing import Any

from lerobot_ext import get_logger

log = get_logger("long_runs")


def apply_new_lr(optimizer: Any, lr_scheduler: Any, new_lr: float) -> float | None:
    """Scale the loaded rates so that the first group's base rate is ``new_lr``; the old base
    rate when it changed, ``None`` when it already was ``new_lr``."""
    scheduler = getattr(lr_scheduler, "scheduler", lr_scheduler)  # accelerate's wrapper, or None
    groups = optimizer.param_groups
    base_lrs = getattr(scheduler, "base_lrs", None) if scheduler is not None else None
    old = float(base_lrs[0]) if base_lrs else float(groups[0].get("initial_lr", groups[0]["lr"]))
    if old <= 0 or math.isclose(old, new_lr, rel_tol=1e-9):
        return None
    ratio = new_lr / old
    for group in groups:
        group["lr"] = group["lr"] * ratio
        if "initial_lr" in group:
            group["initial_lr"] = group["initial_lr"] * ratio
    if base_lrs:
        scheduler.base_lrs = [lr * ratio for lr in base_lrs]
    return old
