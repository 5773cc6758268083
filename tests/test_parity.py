"""The same job through stock ``lerobot-train`` and ``lerobot-train-ext`` gives the same run.

Run on every tested lerobot version, with the flags that version has: on 0.6.2 that includes
EMA of the weights (``--ema.enable``), gradient accumulation, both mixed precisions and, under
``torchrun``, data-parallel replication (``--parallelism.dp_replicate``, DDP on CPU with gloo).
"Same" is the logged losses, every weight of every saved model and every tensor and value of
the training state (optimizer, scheduler, RNG, EMA shadow).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from helpers import BIN, IMAGE_FLAGS, TINY_DIFFUSION, dataset_flags, load_weights, run_cli
from safetensors.torch import load_file

from lerobot_ext.config import FIELDS_FILE
from lerobot_ext.upstream.versions import for_installed

LOSS = re.compile(r"step:(\d+) .*?loss:([0-9.]+)")
EMA = "--ema.enable=true"

# name -> (dataset fixture, flags). The camera dataset once; the flag sets on the fastest one.
ON_EVERY_VERSION = {"plain": ("robocasa_root", IMAGE_FLAGS)}
ONLY_ON_HEAD = {
    "ema": ("bimodal_root", [EMA]),
    "accumulation": ("bimodal_root", ["--accelerator.gradient_accumulation.steps=2"]),
    "bf16": ("bimodal_root", ["--accelerator.mixed_precision=bf16"]),
    "fp16": ("bimodal_root", ["--accelerator.mixed_precision=fp16"]),
}
# {first lerobot version: the jobs that version runs}
JOBS = for_installed({"0.6.1": ON_EVERY_VERSION, "0.6.2": {**ON_EVERY_VERSION, **ONLY_ON_HEAD}})
HAS_PARALLELISM = for_installed({"0.6.1": False, "0.6.2": True})


def _losses(log: str) -> list[tuple[int, str]]:
    return [(int(step), loss) for step, loss in LOSS.findall(log)]


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _same(a: object, b: object) -> bool:
    """Equal, tensors by value (dtype and shape included), inside dicts and lists too."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (
            isinstance(a, torch.Tensor)
            and isinstance(b, torch.Tensor)
            and a.dtype == b.dtype
            and torch.equal(a, b)
        )
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _state_file(path: Path) -> object:
    if path.suffix == ".safetensors":
        return load_file(str(path))
    if path.suffix == ".json":
        return json.loads(path.read_text())
    if path.suffix == ".pt":
        return torch.load(path, map_location="cpu", weights_only=True)
    return path.read_bytes()


def assert_same_checkpoints(upstream: Path, ext: Path, step: str, ema: bool) -> None:
    """The same files (plus our field record next to each train_config.json), the same weights
    and the same training state."""
    ours = _files(ext)
    assert [f for f in ours if not f.endswith(FIELDS_FILE)] == _files(upstream)
    assert [f for f in ours if f.endswith(FIELDS_FILE)] == [
        f.replace("train_config.json", FIELDS_FILE) for f in ours if f.endswith("train_config.json")
    ]
    models = ["pretrained_model", *(["pretrained_model_ema"] if ema else [])]
    for model in models:
        theirs, mine = load_weights(upstream / step, model), load_weights(ext / step, model)
        assert theirs.keys() == mine.keys() and len(mine) > 10
        for name, tensor in theirs.items():
            assert torch.equal(tensor, mine[name]), (model, name)
    state = sorted((upstream / step / "training_state").iterdir())
    assert {"optimizer_state.safetensors", "rng_state.safetensors"} <= {p.name for p in state}
    assert ("ema_state.pt" in {p.name for p in state}) is ema
    for path in state:
        assert _same(_state_file(path), _state_file(ext / step / "training_state" / path.name)), path.name
    if ema:
        # The shadow differs from the live weights: the comparisons above are not vacuous.
        live, shadow = load_weights(ext / step), load_weights(ext / step, "pretrained_model_ema")
        assert any(not torch.equal(live[name], shadow[name]) for name in live)


def _job(root: Path, flags: list[str], steps: int = 4) -> list[str]:
    return [*dataset_flags(root), *TINY_DIFFUSION, f"--steps={steps}", "--log_freq=1", "--seed=7", *flags]


@pytest.mark.slow
@pytest.mark.parametrize("job", list(JOBS), ids=list(JOBS))
def test_same_losses_and_weights_as_upstream(job, request, tmp_path):
    fixture, flags = JOBS[job]
    args = _job(request.getfixturevalue(fixture), flags)
    upstream = run_cli(["lerobot-train", *args, f"--output_dir={tmp_path / 'upstream'}"])
    ours = run_cli(["lerobot-train-ext", *args, f"--output_dir={tmp_path / 'ext'}"])

    upstream_losses = _losses(upstream.stdout + upstream.stderr)
    assert [step for step, _ in upstream_losses] == [1, 2, 3, 4]
    assert _losses(ours.stdout + ours.stderr) == upstream_losses
    assert_same_checkpoints(
        tmp_path / "upstream" / "checkpoints", tmp_path / "ext" / "checkpoints", "000004", EMA in flags
    )


@pytest.mark.slow
def test_same_run_under_torchrun_with_data_parallel_replication(bimodal_root, tmp_path):
    args = _job(bimodal_root, ["--parallelism.dp_replicate=2"], steps=3)
    if not HAS_PARALLELISM:
        # lerobot 0.6.1 has no --parallelism.*: refused as by lerobot-train, as one line naming it.
        upstream = run_cli(["lerobot-train", *args, f"--output_dir={tmp_path / 'u'}"], check=False)
        ours = run_cli(["lerobot-train-ext", *args, f"--output_dir={tmp_path / 'e'}"], check=False)
        assert upstream.returncode != 0 and "parallelism" in upstream.stderr
        assert ours.returncode == 2 and "Traceback" not in ours.stderr
        (line,) = [row for row in ours.stderr.splitlines() if row.startswith("ERROR")]
        assert "--parallelism" in line
        assert not (tmp_path / "e").exists()
        return
    env = {"OMP_NUM_THREADS": "1"}
    runs = {}
    for port, (name, command) in enumerate(
        (("upstream", "lerobot-train"), ("ext", "lerobot-train-ext")), 29561
    ):
        runs[name] = run_cli(
            ["torchrun", "--nproc_per_node=2", f"--master_port={port}", str(BIN / command), *args,
             f"--output_dir={tmp_path / name}"],
            env=env,
            timeout=300,
        )  # fmt: skip
    upstream_losses = _losses(runs["upstream"].stdout + runs["upstream"].stderr)
    assert [step for step, _ in upstream_losses] == [1, 2, 3]
    # 2 processes x 4 samples a step: the log counts the replicated batch.
    assert re.search(r"step:1 smpl:8 ", runs["upstream"].stdout + runs["upstream"].stderr)
    assert _losses(runs["ext"].stdout + runs["ext"].stderr) == upstream_losses
    assert_same_checkpoints(
        tmp_path / "upstream" / "checkpoints", tmp_path / "ext" / "checkpoints", "000003", False
    )
