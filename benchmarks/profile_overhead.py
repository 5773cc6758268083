"""What does ``--profile`` cost? (target: < 3% on the demo job on CPU)

Side by side in one run: the same lerobot-train-ext job with and without ``--profile``,
alternately, per-step time from the difference of a short and a long run; plus the
profiler's own per-step work (phase marks and recording) timed directly.

    python benchmarks/profile_overhead.py [--rounds 4] [--short 20] [--long 220]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import types
from pathlib import Path

from common import IMAGE_FLAGS, TINY_DIFFUSION, alternate, dataset_flags, demo_dataset, median


def recording_cost_per_step(repeats: int = 20000) -> float:
    """Seconds of the clock marks (8 per step) plus the profiler's on_step_phases bookkeeping."""
    from lerobot_ext.profiling.plugin import ProfileSession
    from lerobot_ext.step_timing import StepClock

    cfg = types.SimpleNamespace(
        profile=types.SimpleNamespace(warmup_steps=5, trace=False, enable=True),
        wandb=types.SimpleNamespace(enable=False),
        policy=types.SimpleNamespace(device="cpu"),
        log_freq=200,
        output_dir="unused",
    )
    session = ProfileSession(cfg, rank=0, world_size=1, start_step=0)
    clock = StepClock("cpu")
    start = time.perf_counter()
    for step in range(1, repeats + 1):
        clock.start_step()
        for mark in (
            "data_end",
            "h2d_start",
            "h2d_end",
            "update_start",
            "backward_start",
            "optimizer_start",
            "update_end",
            "hooks_end",
        ):
            clock.mark(mark)
        phases = clock.phases()
        session.window.clear()  # keep the log window from growing in this loop
        session.record(step, phases)
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--short", type=int, default=20)
    parser.add_argument("--long", type=int, default=220)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = demo_dataset("robocasa", Path(tmp) / "robocasa", episodes=8, frames=40, image_size=48)
        job = ["lerobot-train-ext", *dataset_flags(root), *TINY_DIFFUSION, *IMAGE_FLAGS]
        print(
            f"job: tiny Diffusion Policy on the robocasa demo (batch 8, CPU), steps {args.short} vs {args.long}"
        )
        samples = alternate(
            {"without --profile": job, "with --profile": [*job, "--profile", "--profile.warmup_steps=0"]},
            args.rounds,
            args.short,
            args.long,
        )
    plain, profiled = median(samples["without --profile"]), median(samples["with --profile"])
    own = recording_cost_per_step()
    print()
    print(f"{'':<34}{'ms/step':>10}")
    print(f"{'without --profile (median)':<34}{plain * 1e3:>10.2f}")
    print(f"{'with --profile (median)':<34}{profiled * 1e3:>10.2f}")
    print(
        f"end-to-end ratio profiled/plain: {profiled / plain:.4f} (overhead {100 * (profiled / plain - 1):+.2f}%)"
    )
    print(
        f"spread between rounds: plain {min(samples['without --profile']) * 1e3:.1f}-{max(samples['without --profile']) * 1e3:.1f} ms, "
        f"profiled {min(samples['with --profile']) * 1e3:.1f}-{max(samples['with --profile']) * 1e3:.1f} ms"
    )
    print(
        f"profiler's own work per step (8 marks + recording, CPU): {own * 1e6:.1f} us = {100 * own / plain:.3f}% of the step"
    )


if __name__ == "__main__":
    main()
