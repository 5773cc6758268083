"""The same job through stock ``lerobot-train`` and ``lerobot-train-ext`` gives the same run."""

from __future__ import annotations

import re

import pytest
import torch
from helpers import IMAGE_FLAGS, TINY_DIFFUSION, dataset_flags, load_weights, run_cli

LOSS = re.compile(r"step:(\d+) .*?loss:([0-9.]+)")


def _losses(log: str) -> list[tuple[int, str]]:
    return [(int(step), loss) for step, loss in LOSS.findall(log)]


@pytest.mark.slow
def test_same_losses_and_weights_as_upstream(robocasa_root, tmp_path):
    job = [
        *dataset_flags(robocasa_root),
        *TINY_DIFFUSION,
        *IMAGE_FLAGS,
        "--steps=4",
        "--log_freq=1",
        "--seed=7",
    ]
    upstream = run_cli(["lerobot-train", *job, f"--output_dir={tmp_path / 'upstream'}"])
    ours = run_cli(["lerobot-train-ext", *job, f"--output_dir={tmp_path / 'ext'}"])

    upstream_losses = _losses(upstream.stdout + upstream.stderr)
    assert [step for step, _ in upstream_losses] == [1, 2, 3, 4]
    assert _losses(ours.stdout + ours.stderr) == upstream_losses

    theirs = load_weights(tmp_path / "upstream" / "checkpoints" / "000004")
    mine = load_weights(tmp_path / "ext" / "checkpoints" / "000004")
    assert theirs.keys() == mine.keys() and len(mine) > 10
    for name, tensor in theirs.items():
        assert torch.equal(tensor, mine[name]), name
    # The same checkpoint files, nothing half-written left behind.
    files = lambda root: sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())  # noqa: E731
    assert files(tmp_path / "upstream" / "checkpoints") == files(tmp_path / "ext" / "checkpoints")
