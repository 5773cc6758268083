"""What does lerobot-train-ext cost over stock lerobot-train? (target: < 1% of the step time)

Two measurements, side by side in one run:

1. end to end: the same job through ``lerobot-train`` and ``lerobot-train-ext``, alternately,
   per-step time from the difference of a short and a long run (start-up cancels out);
2. the extension's own per-step work (the seam wrappers and one lifecycle-hook dispatch),
   timed directly around a no-op step, against the job's step time.

    python benchmarks/ext_overhead.py [--rounds 4] [--short 20] [--long 220]
"""

from __future__ import annotations

import time
import types

from common import compare_on_tiny_job, median, rounds_arguments


def seam_cost_per_step(repeats: int = 20000) -> float:
    """Seconds the update_policy + cycle seams add to one step when no plugin asks for timings."""
    from lerobot_ext.context import RunContext
    from lerobot_ext.dispatch import hooks_of, load_plugins
    from lerobot_ext.seams import update_policy
    from lerobot_ext.training import TrainingRun

    hooks = hooks_of(load_plugins())
    cfg = types.SimpleNamespace(profile=types.SimpleNamespace(enable=False))
    run = TrainingRun(cfg, RunContext("benchmark", hooks), hooks)
    meter = types.SimpleNamespace(val=0.5)
    tracker = types.SimpleNamespace(
        steps=0, metrics={k: meter for k in ("loss", "grad_norm", "lr", "update_s", "dataloading_s")}
    )

    def original(train_metrics, *args, **kwargs):
        return train_metrics, None

    wrapped = update_policy.make_wrapper(original, run)
    start = time.perf_counter()
    for _ in range(repeats):
        original(tracker, None, None, None, 1.0, accelerator=None)
    bare = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(repeats):
        wrapped(tracker, None, None, None, 1.0, accelerator=None)
    return max(0.0, (time.perf_counter() - start - bare) / repeats)


def main() -> None:
    args = rounds_arguments(__doc__)
    samples = compare_on_tiny_job(
        args,
        lambda job: {
            "lerobot-train": ["lerobot-train", *job],
            "lerobot-train-ext": ["lerobot-train-ext", *job],
        },
    )
    upstream = median(samples["lerobot-train"])
    seam = seam_cost_per_step()
    print(
        f"extension work per step (seams + on_step_end dispatch): {seam * 1e6:.1f} us "
        f"= {100 * seam / upstream:.3f}% of the step"
    )


if __name__ == "__main__":
    main()
