"""What does ``--profile`` cost? (target: < 3% on the demo job on CPU)

Side by side in one run: the same lerobot-train-ext job with and without ``--profile``,
alternately, per-step time from the difference of a short and a long run; plus the
profiler's own per-step work (phase marks and recording) timed directly.

    python benchmarks/profile_overhead.py [--rounds 4] [--short 20] [--long 220]
"""

from __future__ import annotations

import time
import types

from common import compare_on_tiny_job, median, rounds_arguments


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
    args = rounds_arguments(__doc__)
    samples = compare_on_tiny_job(
        args,
        lambda job: {
            "without --profile": ["lerobot-train-ext", *job],
            "with --profile": ["lerobot-train-ext", *job, "--profile", "--profile.warmup_steps=0"],
        },
    )
    plain = median(samples["without --profile"])
    own = recording_cost_per_step()
    print(
        f"profiler's own work per step (8 marks + recording, CPU): {own * 1e6:.1f} us "
        f"= {100 * own / plain:.3f}% of the step"
    )


if __name__ == "__main__":
    main()
