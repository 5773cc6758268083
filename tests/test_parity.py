"""The same job through stock ``lerobot-train`` and ``lerobot-train-ext`` gives the same run.

Run on every tested lerobot version, with the flags that version has: on 0.6.2 that includes
EMA of the weights (``--ema.enable``), gradient accumulation and mixed precision.
"""

from __future__ import annotations

import re

import pytest
import torch
from helpers import IMAGE_FLAGS, TINY_DIFFUSION, dataset_flags, load_weights, run_cli

from lerobot_ext.config import FIELDS_FILE
from lerobot_ext.upstream.versions import for_installed

LOSS = re.compile(r"step:(\d+) .*?loss:([0-9.]+)")

PLAIN: list[str] = []
EMA_AND_ACCUMULATION = ["--ema.enable=true", "--accelerator.gradient_accumulation.steps=2"]
MIXED_PRECISION = ["--accelerator.mixed_precision=bf16"]
# {first lerobot version: the flag sets that version runs}
JOBS = for_installed(
    {
        "0.6.1": {"plain": PLAIN},
        "0.6.2": {"plain": PLAIN, "ema+accumulation": EMA_AND_ACCUMULATION, "bf16": MIXED_PRECISION},
    }
)


def _losses(log: str) -> list[tuple[int, str]]:
    return [(int(step), loss) for step, loss in LOSS.findall(log)]


def _files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


@pytest.mark.slow
@pytest.mark.parametrize("flags", list(JOBS.values()), ids=list(JOBS))
def test_same_losses_and_weights_as_upstream(robocasa_root, tmp_path, flags):
    job = [
        *dataset_flags(robocasa_root),
        *TINY_DIFFUSION,
        *IMAGE_FLAGS,
        "--steps=4",
        "--log_freq=1",
        "--seed=7",
        *flags,
    ]
    upstream = run_cli(["lerobot-train", *job, f"--output_dir={tmp_path / 'upstream'}"])
    ours = run_cli(["lerobot-train-ext", *job, f"--output_dir={tmp_path / 'ext'}"])

    upstream_losses = _losses(upstream.stdout + upstream.stderr)
    assert [step for step, _ in upstream_losses] == [1, 2, 3, 4]
    assert _losses(ours.stdout + ours.stderr) == upstream_losses

    checkpoints = {"upstream": tmp_path / "upstream" / "checkpoints", "ext": tmp_path / "ext" / "checkpoints"}
    # The same checkpoint files (EMA weights included where on), nothing half-written left behind;
    # plus, next to each train_config.json, the record of which plugin owns which field.
    ours = _files(checkpoints["ext"])
    assert [f for f in ours if not f.endswith(FIELDS_FILE)] == _files(checkpoints["upstream"])
    assert [f for f in ours if f.endswith(FIELDS_FILE)] == [
        f.replace("train_config.json", FIELDS_FILE) for f in ours if f.endswith("train_config.json")
    ]
    models = ["pretrained_model"] + (["pretrained_model_ema"] if "--ema.enable=true" in flags else [])
    for model in models:
        theirs = load_weights(checkpoints["upstream"] / "000004", model)
        mine = load_weights(checkpoints["ext"] / "000004", model)
        assert theirs.keys() == mine.keys() and len(mine) > 10
        for name, tensor in theirs.items():
            assert torch.equal(tensor, mine[name]), (model, name)
    if "--ema.enable=true" in flags:
        # The shadow differs from the live weights: the comparison above is not vacuous.
        live = load_weights(checkpoints["ext"] / "000004")
        ema = load_weights(checkpoints["ext"] / "000004", "pretrained_model_ema")
        assert any(not torch.equal(live[name], ema[name]) for name in live)
