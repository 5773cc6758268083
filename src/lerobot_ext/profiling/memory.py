"""Memory in ``--profile``: CUDA's peak allocated and reserved memory per phase, the process's RSS.

CUDA's caching allocator keeps one peak counter (``max_memory_allocated``, ``max_memory_reserved``)
that ``reset_peak_memory_stats`` restarts. The profiler reads it at each phase boundary - the peak
of the phase that just ended - and restarts it for the next phase. Except inside lerobot's
``update_policy``: upstream restarts the counter when the update begins and reads it when it returns
(the ``gpu_mem`` it logs; 0.6.1 and 0.6.2 alike), so a restart at the backward or optimizer boundary
would make upstream's figure the optimizer's peak alone. There the counter is read, not restarted:
``forward``'s figure is its own peak, ``backward``'s and ``optimizer``'s are the highest of the update
so far (a phase whose figure equals the one before it did not raise the peak). Deltas of the
never-restarted counter would say less: a phase below an earlier high-water mark reads as nothing.

The core says when each phase starts (``on_phase_start``, fired only when step timings were asked
for, as ``--profile`` does).

On every device the process's resident set size is sampled once per step (``/proc/self/statm``,
or psutil where there is no ``/proc``), and its peak is ``getrusage``'s ``ru_maxrss``: over the
process's life, DataLoader worker processes not included.
"""

from __future__ import annotations

import os
import sys
from array import array
from typing import Any

from lerobot_ext import BETWEEN_STEPS, PHASES, STEP, Phase

MIB = 1024 * 1024
#: The rows of the memory table: the phases, the step, the time between steps.
MEMORY_ROWS = (*PHASES, STEP, BETWEEN_STEPS)
# Boundaries inside upstream's update_policy, whose peak counter upstream restarts and reads itself.
_INSIDE_UPSTREAM_UPDATE = frozenset({Phase.BACKWARD, Phase.OPTIMIZER})
_MISSING = -1
#: The memory columns of ``steps.csv``, in MiB.
MEMORY_CSV_COLUMNS = ("rss_mib", "peak_allocated_mib", "peak_reserved_mib")


def rss_bytes() -> int | None:
    """This process's resident set size now (``None`` where it cannot be read)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return _psutil_rss()


def _psutil_rss() -> int | None:
    """Where there is no ``/proc`` (macOS): psutil's reading, if it is installed."""
    try:
        import psutil
    except ImportError:
        return None
    return int(psutil.Process().memory_info().rss)


def peak_rss_bytes() -> int | None:
    """This process's largest resident set size so far (``None`` without ``resource``: Windows)."""
    try:
        import resource
    except ImportError:
        return None
    peak = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    # ru_maxrss is in KiB on Linux (and the BSDs), in bytes on macOS.
    return peak if sys.platform == "darwin" else peak * 1024


class CudaPeaks:
    """Peak allocated and reserved bytes per phase of the current step (see the module docstring).

    ``cuda`` is ``torch.cuda`` (a stand-in in tests).
    """

    def __init__(self, cuda: Any) -> None:
        self.cuda = cuda
        self.open: str | None = None
        self.peaks: dict[str, tuple[int, int]] = {}

    def _read(self) -> tuple[int, int]:
        return int(self.cuda.max_memory_allocated()), int(self.cuda.max_memory_reserved())

    def phase_start(self, phase: str) -> None:
        """A phase boundary: the phase that was open gets the peak since the last restart."""
        if self.open is not None:
            allocated, reserved = self._read()
            # preprocess is open twice (before and after the device copy): keep the higher.
            before = self.peaks.get(self.open, (0, 0))
            self.peaks[self.open] = (max(before[0], allocated), max(before[1], reserved))
        self.open = phase
        if phase not in _INSIDE_UPSTREAM_UPDATE:
            self.cuda.reset_peak_memory_stats()

    def step_end(self) -> dict[str, tuple[int, int]]:
        """The peaks of the step that just ended, by row of :data:`MEMORY_ROWS`.

        Each phase's (``between_steps`` is the time before this step, closed when its data wait
        began) and the step's, the highest of its phases.
        """
        found = self.peaks
        self.peaks = {}
        in_step = [found[p] for p in PHASES if p in found]
        if in_step:
            found[STEP] = (max(a for a, _ in in_step), max(r for _, r in in_step))
        return found


class MemoryRecords:
    """Per step: the process's RSS and its peak, and on CUDA the peak allocated/reserved bytes of
    each row of :data:`MEMORY_ROWS` (-1 where not measured)."""

    def __init__(self) -> None:
        self.steps = array("q")
        self.rss = array("q")
        self.peak_rss = array("q")
        self.allocated = {row: array("q") for row in MEMORY_ROWS}
        self.reserved = {row: array("q") for row in MEMORY_ROWS}

    def add(self, step: int, rss: int | None, peak_rss: int | None, cuda: dict[str, tuple[int, int]]) -> None:
        self.steps.append(step)
        self.rss.append(_MISSING if rss is None else rss)
        self.peak_rss.append(_MISSING if peak_rss is None else peak_rss)
        for row in MEMORY_ROWS:
            allocated, reserved = cuda.get(row, (_MISSING, _MISSING))
            self.allocated[row].append(allocated)
            self.reserved[row].append(reserved)

    def __len__(self) -> int:
        return len(self.steps)

    def row_of(self, step_index: int) -> dict[str, float | None]:
        """The :data:`MEMORY_CSV_COLUMNS` of one step: RSS, and the step's CUDA peaks."""
        values = (self.rss[step_index], self.allocated[STEP][step_index], self.reserved[STEP][step_index])
        return dict(zip(MEMORY_CSV_COLUMNS, (_mib(v) for v in values), strict=True))

    def to_payload(self) -> dict[str, Any]:
        """Plain lists, for gathering across ranks."""
        return {
            "steps": list(self.steps),
            "rss": list(self.rss),
            "peak_rss": list(self.peak_rss),
            "allocated": {row: list(v) for row, v in self.allocated.items()},
            "reserved": {row: list(v) for row, v in self.reserved.items()},
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> MemoryRecords:
        records = cls()
        records.steps.extend(payload["steps"])
        records.rss.extend(payload["rss"])
        records.peak_rss.extend(payload["peak_rss"])
        for row in MEMORY_ROWS:
            records.allocated[row].extend(payload["allocated"][row])
            records.reserved[row].extend(payload["reserved"][row])
        return records


def _mib(value: int) -> float | None:
    return None if value < 0 else value / MIB


def _highest(values: array) -> float | None:
    measured = [v for v in values if v >= 0]
    return max(measured) / MIB if measured else None


class MemoryRecorder:
    """What one process measures of memory during a profiled run."""

    def __init__(self, device: str, cuda: Any = None) -> None:
        self.device = device
        self.cuda_peaks: CudaPeaks | None = None
        self.gpu: dict[str, Any] = {}
        if device == "cuda":
            if cuda is None:
                import torch

                cuda = torch.cuda
            self.cuda_peaks = CudaPeaks(cuda)
            index = int(cuda.current_device())
            properties = cuda.get_device_properties(index)
            self.device = f"cuda:{index}"
            self.gpu = {"name": str(properties.name), "total_mib": int(properties.total_memory) / MIB}
        self.records = MemoryRecords()

    def phase_start(self, phase: str) -> None:
        if self.cuda_peaks is not None:
            self.cuda_peaks.phase_start(phase)

    def step_end(self, step: int) -> None:
        cuda = self.cuda_peaks.step_end() if self.cuda_peaks is not None else {}
        rss, peak = rss_bytes(), peak_rss_bytes()
        # The kernel's high-water mark trails its RSS counters by a few pages: the peak so far is
        # at least what the process holds now.
        if rss is not None and peak is not None:
            peak = max(peak, rss)
        self.records.add(step, rss, peak, cuda)

    def to_payload(self) -> dict[str, Any]:
        return {"device": self.device, "gpu": self.gpu, "records": self.records.to_payload()}


def summarise(payload: dict[str, Any]) -> dict[str, Any] | None:
    """The memory part of ``summary.json`` for one process's :meth:`MemoryRecorder.to_payload`.

    Peaks are the highest over every recorded step, warm-up included: a run that runs out of
    memory does so at its highest step, whether or not its timing is representative.
    """
    records = MemoryRecords.from_payload(payload["records"])
    if not len(records):
        return None
    cuda = payload["device"].startswith("cuda")
    last_rss = records.rss[-1]
    out: dict[str, Any] = {
        "device": payload["device"],
        "figures": "torch.cuda peak allocated/reserved, process RSS" if cuda else "process RSS",
        "steps": [records.steps[0], records.steps[-1]],
        "rss_mib": {
            "last": _mib(last_rss),
            "last_step": records.steps[-1],
            "peak": _highest(records.peak_rss),
        },
    }
    if cuda:
        out["gpu"] = payload["gpu"]
        out["peak_mib"] = {
            row: {"allocated": _highest(records.allocated[row]), "reserved": _highest(records.reserved[row])}
            for row in MEMORY_ROWS
            if _highest(records.allocated[row]) is not None
        }
    return out


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def report_lines(found: dict[str, Any]) -> list[str]:
    """The memory block of the profile report, naming the device the figures are for."""
    rss = found["rss_mib"]
    process = (
        f"process RSS {_fmt(rss['last'])} MiB at step {rss['last_step']}, peak {_fmt(rss['peak'])} MiB "
        "(this process since it started, DataLoader workers not included)"
    )
    if "peak_mib" not in found:
        return [f"memory on {found['device']}: {process}"]
    gpu = found["gpu"]
    first, last = found["steps"]
    lines = [
        f"memory on {found['device']} ({gpu['name']}, {gpu['total_mib'] / 1024:.1f} GiB): "
        f"peak per phase over steps {first}-{last}, MiB",
        f"{'':<14}{'allocated':>12}{'reserved':>12}",
    ]
    labels = {STEP: "step", BETWEEN_STEPS: "between steps"}
    for row, peak in found["peak_mib"].items():
        lines.append(f"{labels.get(row, row):<14}{_fmt(peak['allocated']):>12}{_fmt(peak['reserved']):>12}")
    lines.append(
        "(backward and optimizer: the highest since the update began - lerobot restarts the peak "
        "counter there for its gpu_mem log)"
    )
    lines.append(process)
    return lines
