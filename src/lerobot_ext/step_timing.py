"""Phase boundaries of one training step, marked by the seams when a plugin asks for timings.

Public for plugins: :class:`Phase`, :data:`PHASES`, :data:`STEP`, :data:`BETWEEN_STEPS` and
:data:`PHASE_KEYS` (the keys of ``on_step_phases``' ``phases``) and
:func:`synchronisation_method`. :class:`Mark` and :class:`StepClock` are the seams' side.

The seams call :meth:`StepClock.mark` at each boundary; :meth:`StepClock.phases` turns the
marks into contiguous intervals, so the phases of a step add up to its wall time. On CUDA each
mark first synchronises the device: GPU work launched in a phase is charged to that phase rather
than bleeding into whichever phase happens to wait for it next.
"""

from __future__ import annotations

import enum
import itertools
import time
from collections.abc import Callable


class Phase(enum.StrEnum):
    """The phases of a training step, in order (the keys of ``on_step_phases``' ``phases``)."""

    DATA_WAIT = "data_wait"
    PREPROCESS = "preprocess"
    H2D_COPY = "h2d_copy"
    FORWARD = "forward"
    BACKWARD = "backward"
    OPTIMIZER = "optimizer"
    HOOKS = "hooks"


class Mark(enum.StrEnum):
    """The boundaries the seams mark; a misspelt one is an AttributeError, not a merged phase."""

    DATA_START = "data_start"
    DATA_END = "data_end"
    H2D_START = "h2d_start"
    H2D_END = "h2d_end"
    UPDATE_START = "update_start"
    BACKWARD_START = "backward_start"
    OPTIMIZER_START = "optimizer_start"
    UPDATE_END = "update_end"
    HOOKS_END = "hooks_end"


PHASES = tuple(phase.value for phase in Phase)
#: The other two keys of ``on_step_phases``' ``phases``: the step's wall time (the phases add up
#: to it) and the time since the previous step ended (upstream's logging, evaluation, checkpoints).
STEP = "step"
BETWEEN_STEPS = "between_steps"
#: Every key of ``phases``, in report order.
PHASE_KEYS = (*PHASES, STEP, BETWEEN_STEPS)

# Boundary marks in step order, and the phase each one starts. A boundary that was never marked
# (e.g. a policy update that does not call accelerator.backward) folds its phase into the
# previous one, so the phases still cover the whole step. The device copy (H2D_START/H2D_END)
# happens inside the preprocess phase and is carved out of it.
_BOUNDARIES = (
    (Mark.DATA_START, Phase.DATA_WAIT),
    (Mark.DATA_END, Phase.PREPROCESS),
    (Mark.UPDATE_START, Phase.FORWARD),
    (Mark.BACKWARD_START, Phase.BACKWARD),
    (Mark.OPTIMIZER_START, Phase.OPTIMIZER),
    (Mark.UPDATE_END, Phase.HOOKS),
    (Mark.HOOKS_END, None),
)


#: The phase each boundary mark starts (``on_phase_start``); ``HOOKS_END`` starts the time between
#: steps, and ``H2D_END`` goes back to the preprocess phase the device copy is carved out of.
PHASE_STARTED_BY: dict[Mark, str] = {
    Mark.DATA_START: Phase.DATA_WAIT,
    Mark.DATA_END: Phase.PREPROCESS,
    Mark.H2D_START: Phase.H2D_COPY,
    Mark.H2D_END: Phase.PREPROCESS,
    Mark.UPDATE_START: Phase.FORWARD,
    Mark.BACKWARD_START: Phase.BACKWARD,
    Mark.OPTIMIZER_START: Phase.OPTIMIZER,
    Mark.UPDATE_END: Phase.HOOKS,
    Mark.HOOKS_END: BETWEEN_STEPS,
}


def synchronisation_method(device_type: str) -> str:
    """How phase boundaries are measured on ``device_type`` (said in the profile report)."""
    if device_type in ("cuda", "mps"):
        return f"{device_type.upper()}-synchronised at phase boundaries"
    return "perf_counter (CPU)"


class StepClock:
    """Timestamps of phase boundaries within the current step."""

    def __init__(self, device_type: str = "cpu", on_phase_start: Callable[[str], None] | None = None) -> None:
        self.method = synchronisation_method(device_type)
        self._on_phase_start = on_phase_start
        self._sync: Callable[[], None] | None = None
        if device_type in ("cuda", "mps"):
            import torch

            self._sync = torch.cuda.synchronize if device_type == "cuda" else torch.mps.synchronize
        self._marks: dict[Mark, float] = {}
        self._previous_end: float | None = None

    def mark(self, name: Mark) -> None:
        if self._sync is not None:
            self._sync()
        self._marks[name] = time.perf_counter()
        if self._on_phase_start is not None:
            self._on_phase_start(PHASE_STARTED_BY[name])

    @property
    def marks(self) -> tuple[Mark, ...]:
        """The boundaries marked in the current step, in the order they were marked."""
        return tuple(self._marks)

    def start_step(self) -> None:
        end = self._marks.get(Mark.HOOKS_END, self._marks.get(Mark.UPDATE_END))
        if end is not None:
            self._previous_end = end
        self._marks.clear()
        self.mark(Mark.DATA_START)

    def phases(self) -> dict[str, float]:
        """Seconds per phase of the current step (see ``hookspecs.on_step_phases``)."""
        marks = self._marks
        out = dict.fromkeys(PHASES, 0.0)
        present = [(marks[name], phase) for name, phase in _BOUNDARIES if name in marks]
        for (start, phase), (end, _) in itertools.pairwise(present):
            out[phase] += end - start  # type: ignore[index]
        # The device copy happens inside the preprocessor; carve it out of "preprocess".
        if Mark.H2D_START in marks and Mark.H2D_END in marks:
            copy = min(marks[Mark.H2D_END] - marks[Mark.H2D_START], out[Phase.PREPROCESS])
            out[Phase.H2D_COPY] = copy
            out[Phase.PREPROCESS] -= copy
        out[STEP] = present[-1][0] - present[0][0] if present else 0.0
        # Upstream's logging, evaluation and checkpointing happen between two steps.
        start = marks.get(Mark.DATA_START)
        out[BETWEEN_STEPS] = start - self._previous_end if start is not None and self._previous_end else 0.0
        return out
