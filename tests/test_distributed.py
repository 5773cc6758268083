"""``lerobot-train-ext`` under ``torchrun --nproc_per_node=2`` on CPU (gloo)."""

from __future__ import annotations

import json
import os
from importlib.metadata import version

import pytest
from helpers import BIN, IMAGE_FLAGS, TINY_DIFFUSION, dataset_flags, run_cli, write_plugin_distribution

RECORDER = """
import json, os
from lerobot_ext import hookimpl
from lerobot_ext.data_cache.dataset import CachedDataset

# Count the items each process reads from the data cache (the test's probe, not a feature).
SERVED = [0]
_getitem = CachedDataset.__getitem__

def _counting_getitem(self, index):
    SERVED[0] += 1
    return _getitem(self, index)

CachedDataset.__getitem__ = _counting_getitem

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
def checkpoint_writing(step, checkpoint_dir, rank):
    # Rank 1 writes late: its file must still land in the one atomic checkpoint, not after the
    # main process renamed <step>.partial/ to <step>/.
    import time
    if rank:
        time.sleep(1)
    (checkpoint_dir / f"written_by_rank{rank}.txt").write_text(str(step))
    _log("checkpoint_writing", rank=rank, step=step)

@hookimpl
def on_checkpoint_saved(step, checkpoint_dir, rank):
    _log("on_checkpoint_saved", rank=rank, step=step, exists=os.path.isdir(checkpoint_dir))

@hookimpl
def on_train_end(step, rank, world_size):
    import torch.distributed as dist
    _log("on_train_end", rank=rank, world_size=world_size, step=step, pg_alive=dist.is_initialized(),
         cached_items=SERVED[0])
"""


@pytest.mark.slow
def test_two_process_torchrun_fires_lifecycle_hooks_on_both_ranks(robocasa_root, tmp_path):
    site = write_plugin_distribution(tmp_path / "site", "rank_recorder", RECORDER)
    logs = tmp_path / "hooks"
    logs.mkdir()
    env = {
        "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
        "HOOK_LOG_DIR": str(logs),
        "OMP_NUM_THREADS": "1",
    }
    args = [
        *dataset_flags(robocasa_root),
        *TINY_DIFFUSION,
        *IMAGE_FLAGS,
        "--steps=3",
        "--save_freq=3",
        "--log_freq=1",
        f"--output_dir={tmp_path / 'run'}",
        # Three cameras, a missing cache: the main process builds it before the process group
        # exists, while rank 1 polls for its manifest; then both read their items from it.
        f"--data_cache={tmp_path / 'cache'}",
    ]
    result = run_cli(
        ["torchrun", "--nproc_per_node=2", "--master_port=29517", str(BIN / "lerobot-train-ext"), *args],
        env=env,
        timeout=300,
    )
    assert result.returncode == 0

    checkpoint = tmp_path / "run" / "checkpoints" / "000003"
    # lerobot 0.6.1 saves in the main process only; from 0.6.2 every rank runs the save.
    writers = (0,) if version("lerobot") == "0.6.1" else (0, 1)
    assert sorted(p.name for p in checkpoint.glob("written_by_rank*")) == [
        f"written_by_rank{rank}.txt" for rank in writers
    ]
    for rank in (0, 1):
        events = [json.loads(line) for line in (logs / f"rank{rank}.jsonl").read_text().splitlines()]
        writing = [e for e in events if e["event"] == "checkpoint_writing"]
        assert writing == (
            [{"event": "checkpoint_writing", "rank": rank, "step": 3}] if rank in writers else []
        )
        events = [e for e in events if e["event"] != "checkpoint_writing"]
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
        # Each rank's 3 batches of 4 came from the cache (rank 0's spot check reads 3 more).
        assert events[5]["cached_items"] >= 12, (rank, events[5])
    assert (tmp_path / "run" / "checkpoints" / "000003" / "pretrained_model" / "model.safetensors").is_file()
    assert (tmp_path / "cache" / "manifest.json").is_file() and not list(tmp_path.glob("cache.partial-*"))
    assert "building it (once) before training starts, while the other ranks (1) wait" in result.stderr
    assert "match the decoder bit for bit" in result.stderr


def test_the_launch_environment_is_read_with_its_defaults_for_values_no_launcher_sets(monkeypatch):
    from lerobot_ext.launch import launch_rank, launch_world_size

    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert (launch_rank(), launch_world_size()) == (3, 4)
    monkeypatch.setenv("RANK", "")
    monkeypatch.setenv("WORLD_SIZE", "two")
    assert (launch_rank(), launch_world_size()) == (0, 1)  # not a traceback from a log call
    monkeypatch.delenv("RANK")
    monkeypatch.delenv("WORLD_SIZE")
    assert (launch_rank(), launch_world_size()) == (0, 1)


@pytest.mark.slow
def test_a_weighted_mix_trains_under_two_process_torchrun(bimodal_root, tmp_path):
    """--dataset.mix under torchrun: both ranks load both datasets, draw their shards of one weighted
    order, and the main process reports the shares drawn against the weights."""
    from helpers import TINY_FLOW

    from lerobot_ext.demo import write_demo_dataset

    second = write_demo_dataset("bimodal", tmp_path / "second", episodes=3, frames=20, seed=7)
    args = [
        *dataset_flags(bimodal_root),
        f"--dataset.mix=[{second}]",
        "--dataset.mix_weights=[1,3]",
        *TINY_FLOW,
        "--steps=6",
        "--save_freq=6",
        "--log_freq=1",
        f"--output_dir={tmp_path / 'run'}",
    ]
    result = run_cli(
        ["torchrun", "--nproc_per_node=2", "--master_port=29519", str(BIN / "lerobot-train-ext"), *args],
        env={"OMP_NUM_THREADS": "1"},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "run" / "checkpoints" / "000006" / "pretrained_model" / "model.safetensors").is_file()
    drawn = [line for line in result.stderr.splitlines() if "--dataset.mix: samples drawn" in line]
    assert (
        drawn and f"{second} " in drawn[-1] and "(asked 75.0%)" in drawn[-1] and "(asked 25.0%)" in drawn[-1]
    )
