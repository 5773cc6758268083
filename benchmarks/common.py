"""Shared by the benchmark scripts: a demo dataset, the tiny jobs, and timed CLI runs."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
ENV = {
    **os.environ,
    "HF_HUB_OFFLINE": "1",
    "WANDB_MODE": "disabled",
}

TINY_DIFFUSION = [
    "--policy.type=diffusion",
    "--policy.device=cpu",
    "--policy.pretrained_backbone_weights=null",
    "--policy.use_group_norm=true",
    "--policy.down_dims=[16,32,64]",
    "--policy.diffusion_step_embed_dim=16",
    "--policy.horizon=8",
    "--policy.n_action_steps=7",
    "--policy.drop_n_last_frames=0",
    "--policy.push_to_hub=false",
    "--wandb.enable=false",
    "--num_workers=0",
    "--batch_size=8",
    "--save_checkpoint=false",
    "--log_freq=100000",
]
IMAGE_FLAGS = ["--policy.crop_shape=[40,40]", "--policy.use_separate_rgb_encoder_per_camera=false"]


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
