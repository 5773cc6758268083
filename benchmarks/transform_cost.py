"""What do ``--state_filtered_keys`` / ``--action_keep_dims`` cost per batch? (target: < 1% of a step)

Side by side in one run: the transforms' preprocessor steps timed on a batch shaped like the
RoboCasa users' (batch 64, n_obs_steps 2, 53-D state, horizon 8, 12-D action), against the
step time of a demo training run with those transforms (from its --profile summary).

    python benchmarks/transform_cost.py [--steps 40]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import torch
from common import BIN, ENV, IMAGE_FLAGS, TINY_DIFFUSION, dataset_flags, demo_dataset

from lerobot_ext.adapters.robocasa import ARM_ONLY_DROP
from lerobot_ext.demo import jobs


def transform_cost(batch_size: int, repeats: int = 2000) -> float:
    from lerobot.processor import TransitionKey

    from lerobot_ext.adapters.robocasa import STATE_53
    from lerobot_ext.transforms.steps import ActionSliceStep, StateFilterStep

    keep = [d for g in STATE_53 if g.name not in ARM_ONLY_DROP for d in g.dims]
    steps = [StateFilterStep(keep=keep, input_width=53), ActionSliceStep(keep_dims=7, input_width=12)]
    transition = {
        TransitionKey.OBSERVATION: {"observation.state": torch.randn(batch_size, 2, 53)},
        TransitionKey.ACTION: torch.randn(batch_size, 8, 12),
    }
    start = time.perf_counter()
    for _ in range(repeats):
        out = transition
        for step in steps:
            out = step(out)
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = demo_dataset("robocasa", Path(tmp) / "robocasa", episodes=8, frames=40, image_size=48)
        out = Path(tmp) / "run"
        command = [
            str(BIN / "lerobot-train-ext"),
            *dataset_flags(root),
            *TINY_DIFFUSION,
            *IMAGE_FLAGS,
            f"--steps={args.steps}",
            f"--output_dir={out}",
            jobs.list_flag("state_filtered_keys", ARM_ONLY_DROP),
            "--action_keep_dims=7",
            "--profile",
            "--profile.chart=false",
        ]
        result = subprocess.run(command, capture_output=True, text=True, env=ENV)
        if result.returncode != 0:
            raise SystemExit(result.stderr[-3000:])
        summary = json.loads((out / "profile" / "summary.json").read_text())
    step = summary["phases"]["step"]["mean_ms"] / 1e3
    batch = summary["settings"]["batch_size"]
    cost_demo = transform_cost(batch)
    cost_users = transform_cost(64)
    print(
        f"demo step (tiny Diffusion Policy, batch {batch}, CPU, mean of {summary['measured_steps']} steps): {step * 1e3:.2f} ms"
    )
    print(
        f"transform steps per batch, batch {batch}: {cost_demo * 1e6:.1f} us = {100 * cost_demo / step:.3f}% of the step"
    )
    print(
        f"transform steps per batch, batch 64 (the users'): {cost_users * 1e6:.1f} us "
        f"= {100 * cost_users / step:.3f}% of this demo step (the users' step is far longer)"
    )


if __name__ == "__main__":
    main()
