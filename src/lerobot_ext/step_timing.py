"""Phase boundaries of one training step, marked by the seams when a plugin asks for timings.

The seams call :meth:`StepClock.mark` at each boundary; :meth:`StepClock.phases` turns the
marks into contiguous intervals, so the phases of a step add up to its wall time. On CUDA each
mark first synchronises the device: GPU work launched in a phase is charged to that phase rather
than bleeding into whichever phase happens to wait for it next.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

PHASES = ("data_wait", "preprocess", "h2d_copy", "forward", "backward", "optimizer", "hooks")

# Boundary marks in step order, and the phase each one starts. A boundary that was never marked
# (e.g. a policy update that does not call accelerator.backward) folds its phase into the
# previous one, so the phases still cover the whole step.
_BOUNDARIES = (
    ("data_start", "data_wait"),
    ("data_end", "preprocess"),
    ("update_start", "forward"),
    ("backward_start", "backward"),
    ("optimizer_start", "optimizer"),
    ("update_end", "hooks"),
    ("hooks_end", None),
)


def synchronisation_method(device_type: str) -> str:
    """How phase boundaries are measured on ``device_type`` (said in the profile report)."""
    if device_type in ("cuda", "mps"):
        return f"{device_type.upper()}-synchronised at phase boundaries"
    return "perf_counter (CPU)"


class StepClock:
    """Timestamps of phase boundaries within the current step."""

    def __init__(self, device_type: str = "cpu") -> None:
        self.method = synchronisation_method(device_type)
        self._sync: Callable[[], None] | None = None
        if device_type in ("cuda", "mps"):
            import torch

            self._sync = torch.cuda.synchronize if device_type == "cuda" else torch.mps.synchronize
        self._marks: dict[str, float] = {}
        self._previous_end: float | None = None

    def mark(self, name: str) -> None:
        if self._sync is not None:
            self._sync()
        self._marks[name] = time.perf_counter()

    def start_step(self) -> None:
        end = self._marks.get("hooks_end", self._marks.get("update_end"))
        if end is not None:
            self._previous_end = end
        self._marks.clear()
        self.mark("data_start")

    def phases(self) -> dict[str, float]:
        """Seconds per phase of the current step (see ``hookspecs.on_step_phases``)."""
        marks = self._marks
        out = dict.fromkeys(PHASES, 0.0)
        present = [(marks[name], phase) for name, phase in _BOUNDARIES if name in marks]
        for (start, phase), (end, _) in itertools.pairwise(present):
            out[phase] += end - start  # type: ignore[index]
        # The device copy happens inside the preprocessor; carve it out of "preprocess".
        if "h2d_start" in marks and "h2d_end" in marks:
            out["h2d_copy"] = min(marks["h2d_end"] - marks["h2d_start"], out["preprocess"])
            out["preprocess"] -= out["h2d_copy"]
        out["step"] = present[-1][0] - present[0][0] if present else 0.0
        # Upstream's logging, evaluation and checkpointing happen between two steps.
        start = marks.get("data_start")
        out["between_steps"] = start - self._previous_end if start is not None and self._previous_end else 0.0
        return out
