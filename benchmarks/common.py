"""Shared by the benchmark scripts: a demo dataset, the tiny jobs, and timed CLI runs."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from lerobot_ext.demo import jobs

BIN = Path(sys.executable).parent
ENV = {
    **os.environ,
    "HF_HUB_OFFLINE": "1",
    "WANDB_MODE": "disabled",
    # One intra-op thread per run: on a shared 2-core machine, two torch threads fighting other
    # jobs for cores is the biggest source of round-to-round noise. Override by exporting it.
    "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
}

TINY_DIFFUSION = [*jobs.TINY_DIFFUSION, "--batch_size=8", "--save_checkpoint=false", "--log_freq=100000"]
IMAGE_FLAGS = jobs.SMALL_IMAGES


def rounds_arguments(doc: str | None) -> argparse.Namespace:
    """``--rounds``, ``--short`` and ``--long`` for an alternating comparison."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds")
    parser.add_argument("--short", type=int, default=20, help="steps of the short run")
    parser.add_argument("--long", type=int, default=220, help="steps of the long run")
    return parser.parse_args()


def tiny_robocasa_job(folder: Path) -> list[str]:
    """Dataset and policy flags of the tiny Diffusion Policy job on a fresh robocasa demo dataset."""
    root = demo_dataset("robocasa", folder / "robocasa", episodes=8, frames=40, image_size=48)
    return [*dataset_flags(root), *TINY_DIFFUSION, *IMAGE_FLAGS]


def demo_dataset(layout: str, root: Path, **kwargs) -> Path:
    from lerobot_ext.demo import write_demo_dataset

    if not root.exists():
        write_demo_dataset(layout, root, **kwargs)
    return root


def dataset_flags(root: Path) -> list[str]:
    return [f"--dataset.repo_id=local/{root.name}", f"--dataset.root={root}"]


def timed_run(command: list[str]) -> float:
    """Wall seconds of one CLI run (fails loudly)."""
    with tempfile.TemporaryDirectory() as tmp:
        args = [str(BIN / command[0]), *command[1:], f"--output_dir={Path(tmp) / 'run'}"]
        start = time.perf_counter()
        result = subprocess.run(args, capture_output=True, text=True, env=ENV)
        elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return elapsed


def per_step_seconds(command: list[str], short: int, long: int) -> float:
    """(T(long) - T(short)) / (long - short): the start-up cost cancels out."""
    t_short = timed_run([*command, f"--steps={short}"])
    t_long = timed_run([*command, f"--steps={long}"])
    return (t_long - t_short) / (long - short)


def alternate(variants: dict[str, list[str]], rounds: int, short: int, long: int) -> dict[str, list[float]]:
    """Per-step seconds of each variant, measured in alternating order, ``rounds`` times."""
    names = list(variants)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(rounds):
        order = names if round_index % 2 == 0 else names[::-1]
        for name in order:
            value = per_step_seconds(variants[name], short, long)
            samples[name].append(value)
            print(f"  round {round_index + 1}/{rounds} {name:<28} {value * 1e3:8.2f} ms/step", flush=True)
    return samples


def median(values: list[float]) -> float:
    return statistics.median(values)


def print_comparison(samples: dict[str, list[float]], baseline: str, candidate: str) -> float:
    """Print both variants' median ms/step, the ratio and the spread; returns candidate/baseline."""
    base, cand = median(samples[baseline]), median(samples[candidate])
    print()
    print(f"{'':<34}{'ms/step':>10}")
    for name, value in ((baseline, base), (candidate, cand)):
        print(f"{name + ' (median)':<34}{value * 1e3:>10.2f}")
    ratio = cand / base
    print(
        f"ratio {candidate} / {baseline}: {ratio:.4f} ({100 * (ratio - 1):+.2f}%; steps/s ratio {base / cand:.4f})"
    )
    spread = ", ".join(f"{n} {min(v) * 1e3:.1f}-{max(v) * 1e3:.1f} ms" for n, v in samples.items())
    print(f"spread between rounds: {spread}")
    # Each round measures both variants back to back, so a round's ratio cancels slow drifts in
    # machine load that the medians above still carry.
    paired = [c / b for b, c in zip(samples[baseline], samples[candidate], strict=True)]
    listed = ", ".join(f"{r:.3f}" for r in paired)
    print(f"per-round ratios: {listed}; median {median(paired):.4f} ({100 * (median(paired) - 1):+.2f}%)")
    return ratio


def compare_on_tiny_job(
    args: argparse.Namespace, make_variants: Callable[[list[str]], dict[str, list[str]]]
) -> dict[str, list[float]]:
    """Alternate two variants of the tiny robocasa job and print their comparison.

    ``make_variants`` gets the job's flags and returns ``{name: command}``, baseline first.
    """
    with tempfile.TemporaryDirectory() as tmp:
        job = tiny_robocasa_job(Path(tmp))
        print(
            "job: tiny Diffusion Policy on the robocasa demo (batch 8, CPU, "
            f"OMP_NUM_THREADS={ENV['OMP_NUM_THREADS']}), steps {args.short} vs {args.long}"
        )
        samples = alternate(make_variants(job), args.rounds, args.short, args.long)
    baseline, candidate = samples
    print_comparison(samples, baseline, candidate)
    return samples
