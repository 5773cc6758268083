"""Per-step phase timings of one process, and their summary statistics."""

from __future__ import annotations

from array import array
from dataclasses import dataclass

import numpy as np

from lerobot_ext import PHASE_KEYS, STEP

# One column per key of on_step_phases' phases: the phases, the step's wall time, between steps.
COLUMNS = PHASE_KEYS


@dataclass
class PhaseStats:
    mean: float
    p50: float
    p90: float
    max: float
    percent: float  # of the mean step time

    def as_ms(self) -> dict[str, float]:
        return {
            "mean_ms": self.mean * 1e3,
            "p50_ms": self.p50 * 1e3,
            "p90_ms": self.p90 * 1e3,
            "max_ms": self.max * 1e3,
            "percent_of_step": self.percent,
        }


class StepRecords:
    """Phase seconds of every step of one process, with warm-up and traced steps flagged."""

    def __init__(self) -> None:
        self.steps = array("q")
        self.flags = array("b")  # 0 measured, 1 warm-up, 2 inside a torch.profiler trace
        self.values = {column: array("d") for column in COLUMNS}

    def add(self, step: int, phases: dict[str, float], flag: int) -> None:
        self.steps.append(step)
        self.flags.append(flag)
        for column in COLUMNS:
            self.values[column].append(float(phases.get(column, 0.0)))

    def __len__(self) -> int:
        return len(self.steps)

    def measured(self) -> np.ndarray:
        return np.frombuffer(self.flags, dtype=np.int8) == 0 if len(self) else np.zeros(0, dtype=bool)

    def summary(self) -> dict[str, PhaseStats]:
        """Stats of the measured steps (all steps if warm-up covered every one of them)."""
        mask = self.measured()
        if not mask.any():
            mask = np.ones(len(self), dtype=bool)
        columns = {c: np.frombuffer(self.values[c], dtype=np.float64)[mask] for c in COLUMNS}
        step_mean = float(columns[STEP].mean()) if len(columns[STEP]) else 0.0
        out = {}
        for column, values in columns.items():
            if not len(values):
                values = np.zeros(1)
            mean = float(values.mean())
            out[column] = PhaseStats(
                mean=mean,
                p50=float(np.percentile(values, 50)),
                p90=float(np.percentile(values, 90)),
                max=float(values.max()),
                percent=100.0 * mean / step_mean if step_mean > 0 else 0.0,
            )
        return out

    def rows(self) -> list[tuple[int, int, list[float]]]:
        return [
            (int(self.steps[i]), int(self.flags[i]), [self.values[c][i] for c in COLUMNS])
            for i in range(len(self))
        ]

    def to_payload(self) -> dict:
        """Plain lists, for gathering across ranks."""
        return {
            "steps": list(self.steps),
            "flags": list(self.flags),
            "values": {c: list(v) for c, v in self.values.items()},
        }

    @classmethod
    def from_payload(cls, payload: dict) -> StepRecords:
        records = cls()
        records.steps.extend(payload["steps"])
        records.flags.extend(payload["flags"])
        for column in COLUMNS:
            records.values[column].extend(payload["values"][column])
        return records


def window_means(window: list[dict[str, float]]) -> dict[str, float]:
    """Mean seconds per phase over the steps since the last log step."""
    if not window:
        return dict.fromkeys(COLUMNS, 0.0)
    return {column: sum(p.get(column, 0.0) for p in window) / len(window) for column in COLUMNS}
