"""The profile report: the log line, the final table, and the files in ``<output_dir>/profile/``."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from lerobot_ext import BETWEEN_STEPS, PHASES, STEP, Phase
from lerobot_ext.profiling.memory import MEMORY_CSV_COLUMNS, MemoryRecords
from lerobot_ext.profiling.stats import COLUMNS, PhaseStats, StepRecords

LABELS = {STEP: "step (wall)", BETWEEN_STEPS: "between steps"}


def log_line(step: int, window: int, means: dict[str, float], rank_note: str = "") -> str:
    step_ms = means[STEP] * 1e3
    parts = " | ".join(f"{phase} {means[phase] * 1e3:.1f}" for phase in PHASES)
    share = 100.0 * means[Phase.DATA_WAIT] / means[STEP] if means[STEP] > 0 else 0.0
    return (
        f"profile @ step {step} (mean of last {window} steps{rank_note}, ms): {parts} | step {step_ms:.1f} "
        f"(data wait {share:.0f}%)"
    )


def table(summary: dict[str, PhaseStats], header: str) -> list[str]:
    lines = [header, f"{'phase':<14}{'mean ms':>10}{'p50':>9}{'p90':>9}{'max':>9}{'% of step':>11}"]

    def row(name: str, stats: PhaseStats, percent: str) -> str:
        return (
            f"{LABELS.get(name, name):<14}{stats.mean * 1e3:>10.2f}{stats.p50 * 1e3:>9.2f}"
            f"{stats.p90 * 1e3:>9.2f}{stats.max * 1e3:>9.2f}{percent:>11}"
        )

    for phase in PHASES:
        lines.append(row(phase, summary[phase], f"{summary[phase].percent:.1f}%"))
    lines.append(row(STEP, summary[STEP], "100.0%"))
    lines.append(row(BETWEEN_STEPS, summary[BETWEEN_STEPS], "(outside)"))
    return lines


def write_csv(
    path: Path, per_rank: dict[int, StepRecords], memory: dict[int, MemoryRecords] | None = None
) -> None:
    """One row per rank and step: the phases in ms, then the memory columns (MiB; empty where not
    measured - the CUDA peaks off CUDA)."""
    memory = memory or {}
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["rank", "step", "warmup", "traced", *(f"{c}_ms" for c in COLUMNS), *MEMORY_CSV_COLUMNS]
        )
        for rank, records in sorted(per_rank.items()):
            used = memory.get(rank)
            for index, (step, flag, values) in enumerate(records.rows()):
                mib = used.row_of(index) if used is not None and index < len(used) else {}
                writer.writerow(
                    [
                        rank,
                        step,
                        int(flag == 1),
                        int(flag == 2),
                        *(f"{v * 1e3:.4f}" for v in values),
                        *("" if mib.get(c) is None else f"{mib[c]:.1f}" for c in MEMORY_CSV_COLUMNS),
                    ]
                )


def write_json(path: Path, payload: dict[str, Any]) -> None:
    with open(path, "w") as f:
        json.dump(payload, f, indent=2)


def write_chart(path: Path, records: StepRecords, title: str) -> None:
    """A stacked area chart of the phases (ms) over steps; warm-up steps shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    steps = np.frombuffer(records.steps, dtype=np.int64)
    stacks = [np.frombuffer(records.values[p], dtype=np.float64) * 1e3 for p in PHASES]
    fig, ax = plt.subplots(figsize=(10, 4.5), dpi=100)
    ax.stackplot(steps, *stacks, labels=PHASES, step="mid")
    flags = np.frombuffer(records.flags, dtype=np.int8)
    warm = steps[flags == 1]
    if len(warm):
        ax.axvspan(
            warm.min() - 0.5, warm.max() + 0.5, color="grey", alpha=0.15, label="warm-up (not in table)"
        )
    ax.set_xlabel("step")
    ax.set_ylabel("ms")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    ax.margins(x=0)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
