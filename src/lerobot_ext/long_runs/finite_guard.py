"""Stop a run whose loss or gradients stop being finite, before it saves anything from then on.

A NaN or infinite loss, or gradient norm, poisons the weights at that step (upstream's update
has already stepped the optimizer), and upstream would go on and save them. ``on_step_end`` fires
before upstream checkpoints the step, so stopping there leaves ``checkpoints/last`` on the last
finite checkpoint; ``checkpoint_writing`` also refuses to commit a checkpoint whose weights are
not all finite, whatever made them so. A non-finite gradient norm with a finite loss and finite
weights is a step a mixed-precision loss scaler skipped: it is logged, not fatal.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from lerobot_ext import LerobotExtError, get_logger

log = get_logger("long_runs")


class NonFiniteTrainingError(LerobotExtError, RuntimeError):
    """The loss, the gradients or the weights stopped being finite; the run stopped."""


def non_finite_parameters(policy: Any) -> list[str]:
    """The names of the policy's parameters holding a NaN or an infinity (the first few)."""
    import torch

    found = []
    with torch.no_grad():
        for name, parameter in policy.named_parameters():
            if not bool(torch.isfinite(parameter).all()):
                found.append(name)
                if len(found) == 3:
                    break
    return found


def _continue_hint(output_dir: Path | None, lr: float | None) -> str:
    last = None if output_dir is None else Path(output_dir) / "checkpoints" / "last"
    where = (
        f"checkpoints/last is still step {last.resolve().name}, the last finite checkpoint"
        if last is not None and last.exists()
        else "no checkpoint was saved before it"
    )
    now = f" (it is {lr:g} now)" if lr is not None and math.isfinite(lr) else ""
    return (
        f"{where}. To continue from there with a lower learning rate: the same command with "
        f"--auto_resume=true --optimizer.lr=<lower>{now}"
    )


def check_step(step: int, metrics: dict[str, float], policy: Any, output_dir: Path | None) -> None:
    """Raise :class:`NonFiniteTrainingError` if this step's loss or gradient norm is not finite
    (unless only the gradients were, and the weights are still finite: a skipped step)."""
    loss, grad_norm = metrics.get("loss"), metrics.get("grad_norm")
    loss_bad = loss is not None and not math.isfinite(loss)
    grad_bad = grad_norm is not None and not math.isfinite(grad_norm)
    if not loss_bad and not grad_bad:
        return
    if not loss_bad and policy is not None and not non_finite_parameters(policy):
        log.warning(
            "step %s: the gradient norm is %s and the weights are unchanged and finite (a mixed-precision "
            "loss scaler skipped the step); training goes on",
            step,
            grad_norm,
        )
        return
    what = f"the loss is {loss}" if loss_bad else f"the gradient norm is {grad_norm}"
    raise NonFiniteTrainingError(
        f"step {step}: {what}; the run stopped before saving this step - "
        + _continue_hint(output_dir, metrics.get("lr"))
    )


def check_weights_before_saving(step: int, policy: Any, output_dir: Path | None) -> None:
    """Refuse to commit the checkpoint of ``step`` if the weights are not all finite."""
    bad = non_finite_parameters(policy)
    if bad:
        raise NonFiniteTrainingError(
            f"step {step}: the weights are not finite ({', '.join(bad)}); the checkpoint of this step was "
            "not saved - " + _continue_hint(output_dir, None)
        )
