"""``lerobot-train-ext`` under ``torchrun --nproc_per_node=2`` on CPU (gloo)."""

from __future__ import annotations

import json
import os

import pytest
from helpers import BIN, TINY_DIFFUSION, dataset_flags, run_cli, write_plugin_distribution

RECORDER = """
import json, os
from lerobot_ext import hookimpl

def _log(event, **fields):
    with open(os.path.join(os.environ["HOOK_LOG_DIR"], f"rank{fields['rank']}.jsonl"), "a") as f:
        f.write(json.dumps({"event": event, **fields}) + "\\n")

@hookimpl
def on_train_start(rank, world_size, start_step):
    _log("on_train_start", rank=rank, world_size=world_size, start_step=start_step)

@hookimpl
def on_step_end(step, metrics, rank, world_size):
    _log("on_step_end", rank=rank, world_size=world_size, step=step, loss=metrics["loss"])

@hookimpl
def on_checkpoint_saved(step, checkpoint_dir, rank):
    _log("on_checkpoint_saved", rank=rank, step=step, exists=os.path.isdir(checkpoint_dir))

@hookimpl
def on_train_end(step, rank, world_size):
    import torch.distributed as dist
    _log("on_train_end", rank=rank, world_size=world_size, step=step, pg_alive=dist.is_initialized())
"""


@pytest.mark.slow
def test_two_process_torchrun_fires_lifecycle_hooks_on_both_ranks(bimodal_root, tmp_path):
    site = write_plugin_distribution(tmp_path / "site", "rank_recorder", RECORDER)
    logs = tmp_path / "hooks"
    logs.mkdir()
    env = {
        "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
        "HOOK_LOG_DIR": str(logs),
        "OMP_NUM_THREADS": "1",
    }
    args = [
        *dataset_flags(bimodal_root),
        *TINY_DIFFUSION,
        "--steps=3",
        "--save_freq=3",
        "--log_freq=1",
        f"--output_dir={tmp_path / 'run'}",
        # The main process builds the missing data cache; rank 1 waits at upstream's barrier.
        f"--data_cache={tmp_path / 'cache'}",
    ]
    result = run_cli(
        ["torchrun", "--nproc_per_node=2", "--master_port=29517", str(BIN / "lerobot-train-ext"), *args],
        env=env,
        timeout=300,
    )
    assert result.returncode == 0

    for rank in (0, 1):
        events = [json.loads(line) for line in (logs / f"rank{rank}.jsonl").read_text().splitlines()]
        assert [e["event"] for e in events] == [
            "on_train_start",
            "on_step_end",
            "on_step_end",
            "on_step_end",
            "on_checkpoint_saved",
            "on_train_end",
        ]
        assert all(e["rank"] == rank for e in events)
        assert events[0]["world_size"] == 2 and events[0]["start_step"] == 0
        assert [e["step"] for e in events if e["event"] == "on_step_end"] == [1, 2, 3]
        assert events[4] == {"event": "on_checkpoint_saved", "rank": rank, "step": 3, "exists": True}
        assert events[5]["pg_alive"] is True  # fired before upstream destroys the process group
    assert (tmp_path / "run" / "checkpoints" / "000003" / "pretrained_model" / "model.safetensors").is_file()
    assert (tmp_path / "cache" / "manifest.json").is_file() and not list(tmp_path.glob("cache.partial-*"))
    assert "--data_cache: train items from" in result.stderr
