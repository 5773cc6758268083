"""Long runs on rented machines: SIGTERM/SIGUSR1 stop cleanly with a checkpoint, the same command
with --auto_resume continues to the same weights, old checkpoints are pruned, and the first
hour's errors are one line each."""

from __future__ import annotations

import functools
import os
import signal
import types
from pathlib import Path

import pytest
import torch
from helpers import (
    BIN,
    TINY_DIFFUSION,
    dataset_flags,
    load_weights,
    run_cli,
    train_in_process,
    write_plugin_distribution,
)

from lerobot_ext import hookimpl
from lerobot_ext.long_runs import first_hour
from lerobot_ext.long_runs.auto_resume import disagreements
from lerobot_ext.long_runs.retention import prune
from lerobot_ext.plugins import load_plugins


class Signals:
    """Sends a signal to this process after a given step; records the lifecycle."""

    def __init__(self, at_step: int | None = None, sig: int = signal.SIGTERM) -> None:
        self.at_step, self.sig = at_step, sig
        self.events: list[tuple[str, int]] = []

    @hookimpl
    def on_step_end(self, step):
        self.events.append(("step", step))
        if step == self.at_step:
            os.kill(os.getpid(), self.sig)

    @hookimpl
    def on_checkpoint_saved(self, step):
        self.events.append(("checkpoint", step))

    @hookimpl
    def on_train_end(self, step):
        self.events.append(("end", step))

    @hookimpl
    def on_exception(self, exception):
        self.events.append(("exception", 0))


def job(root: Path, out: Path, *extra: str) -> list[str]:
    return [
        *dataset_flags(root),
        *TINY_DIFFUSION,
        "--steps=5",
        "--seed=7",
        "--save_freq=100",
        f"--output_dir={out}",
        *extra,
    ]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGUSR1], ids=["SIGTERM", "SIGUSR1"])
def test_a_signal_checkpoints_the_step_and_ends_the_run_cleanly(
    sig, bimodal_root, tmp_path, extra_entry_points, capsys
):
    recorder = Signals(at_step=2, sig=sig)
    extra_entry_points("signals", recorder)
    out = tmp_path / "run"
    assert train_in_process(job(bimodal_root, out, "--auto_resume=true")) == 0
    assert recorder.events == [("step", 1), ("step", 2), ("checkpoint", 2), ("end", 2)]
    checkpoints = out / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == ["000002", "last"]
    assert (checkpoints / "last").resolve() == (checkpoints / "000002").resolve()
    assert (checkpoints / "000002" / "pretrained_model" / "model.safetensors").is_file()
    assert signal.getsignal(sig) is signal.SIG_DFL  # handlers are put back after the run
    error = capsys.readouterr().err
    assert f"stopped after step 2: {signal.Signals(sig).name}" in error
    assert "Continue with the same command and --auto_resume=true" in error


@pytest.mark.slow
def test_an_interrupted_run_resumed_with_the_same_command_ends_with_the_same_weights(
    bimodal_root, tmp_path, extra_entry_points
):
    whole = tmp_path / "whole"
    assert train_in_process(job(bimodal_root, whole)) == 0
    interrupted = tmp_path / "interrupted"
    command = job(bimodal_root, interrupted, "--auto_resume=true")
    stopper = Signals(at_step=3)
    extra_entry_points("signals", stopper)
    assert train_in_process(command) == 0
    assert (interrupted / "checkpoints" / "000003").is_dir()
    stopper.at_step = None
    assert train_in_process(command) == 0  # the same command line, re-run
    assert stopper.events[-3:] == [("step", 5), ("checkpoint", 5), ("end", 5)]
    # What makes it exact: long_runs' first_batch_ready puts back the checkpoint's random state
    # after the data iterator (whose creation draws from torch's generator) exists.
    assert "first_batch_ready" in next(
        i.hooks for i in load_plugins(environ={}).infos if i.name == "long_runs"
    )
    mine = load_weights(interrupted / "checkpoints" / "000005")
    theirs = load_weights(whole / "checkpoints" / "000005")
    assert mine.keys() == theirs.keys()
    assert all(torch.equal(mine[name], theirs[name]) for name in theirs)


def test_a_second_signal_while_saving_does_not_interrupt_the_checkpoint(
    bimodal_root, tmp_path, extra_entry_points, monkeypatch, capsys
):
    from lerobot.scripts import lerobot_train

    original = lerobot_train.save_checkpoint

    @functools.wraps(original)
    def save_and_get_signalled(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)  # the scheduler insists, mid-save
        return original(*args, **kwargs)

    monkeypatch.setattr(lerobot_train, "save_checkpoint", save_and_get_signalled)
    extra_entry_points("signals", Signals(at_step=1))
    out = tmp_path / "run"
    assert train_in_process(job(bimodal_root, out)) == 0
    assert load_weights(out / "checkpoints" / "000001")  # complete and loadable
    assert not list((out / "checkpoints").glob("*.partial"))
    assert (
        "SIGTERM received again: already stopping - the checkpoint is being written"
        in capsys.readouterr().err
    )


def test_without_checkpoints_a_signal_stops_after_the_step(bimodal_root, tmp_path, extra_entry_points):
    recorder = Signals(at_step=2)
    extra_entry_points("signals", recorder)
    out = tmp_path / "run"
    assert train_in_process(job(bimodal_root, out, "--save_checkpoint=false")) == 0
    assert recorder.events == [("step", 1), ("step", 2), ("end", 2)]
    assert not (out / "checkpoints").exists()


SIGNAL_RANK_1 = """
import os, signal
from lerobot_ext import hookimpl

@hookimpl
def on_step_end(step, rank):
    if step == 2 and rank == 1:
        os.kill(os.getpid(), signal.SIGTERM)

@hookimpl
def on_train_end(step, rank):
    with open(os.path.join(os.environ["STOP_LOG"], f"rank{rank}"), "w") as f:
        f.write(str(step))
"""


@pytest.mark.slow
def test_under_torchrun_the_ranks_agree_on_the_step(bimodal_root, tmp_path):
    site = write_plugin_distribution(tmp_path / "site", "rank_signal", SIGNAL_RANK_1)
    logs = tmp_path / "logs"
    logs.mkdir()
    env = {
        "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
        "STOP_LOG": str(logs),
        "OMP_NUM_THREADS": "1",
    }
    out = tmp_path / "run"
    command = [
        "torchrun",
        "--nproc_per_node=2",
        "--master_port=29533",
        str(BIN / "lerobot-train-ext"),
        *job(bimodal_root, out),
    ]
    result = run_cli(command, env=env, timeout=300)
    assert result.returncode == 0
    assert {p.name: p.read_text() for p in logs.iterdir()} == {"rank0": "2", "rank1": "2"}
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["000002", "last"]


def test_auto_resume_names_the_flags_that_disagree():
    fresh = types.SimpleNamespace(
        batch_size=32, steps=900, policy=types.SimpleNamespace(horizon=8, type="flow")
    )
    saved = types.SimpleNamespace(
        batch_size=64, steps=500, policy=types.SimpleNamespace(horizon=8, type="flow")
    )
    # A flag given twice counts once, with its last value - as the parser reads it.
    args = ["--batch_size=64", "--batch_size=32", "--steps=900", "--policy.horizon=8", "--policy.type=flow"]
    assert disagreements(fresh, saved, args) == ["--batch_size=32 (the run in progress has 64)"]


@pytest.mark.slow
def test_auto_resume_refuses_a_changed_command_and_starts_fresh_without_a_checkpoint(
    bimodal_root, tmp_path, capsys
):
    out = tmp_path / "run"
    assert train_in_process(job(bimodal_root, out, "--auto_resume=true", "--steps=2")) == 0  # fresh
    changed = job(bimodal_root, out, "--auto_resume=true", "--steps=3", "--batch_size=8")
    assert train_in_process(changed) == 2
    error = capsys.readouterr().err
    assert (
        f"--auto_resume=true would continue the run in {out}, but this command sets --batch_size=8" in error
    )
    assert "the run in progress has 4" in error


def test_old_checkpoints_go_once_a_newer_one_is_complete(tmp_path):
    checkpoints = tmp_path / "checkpoints"
    for step in (2, 4, 6, 8):
        (checkpoints / f"{step:06d}" / "pretrained_model").mkdir(parents=True)
    (checkpoints / "000010.partial").mkdir()  # a save in progress is not a checkpoint yet
    (checkpoints / "last").symlink_to("000004")  # e.g. after a manual rollback
    removed = prune(checkpoints, keep=2)
    assert sorted(p.name for p in removed) == ["000002"]
    assert sorted(p.name for p in checkpoints.iterdir()) == [
        "000004",
        "000006",
        "000008",
        "000010.partial",
        "last",
    ]


@pytest.mark.slow
def test_keep_last_checkpoints_in_a_run(bimodal_root, tmp_path):
    out = tmp_path / "run"
    assert train_in_process([*job(bimodal_root, out, "--save_freq=1", "--keep_last_checkpoints=2")]) == 0
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["000004", "000005", "last"]


# --------------------------------------------------------------------------- the first hour


def one_error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if "ERROR lerobot-ext" in line]
    assert result.returncode == 2 and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[
        -2000:
    ]
    return lines[0]


@pytest.mark.slow
def test_an_existing_output_dir_says_how_to_continue(bimodal_root, tmp_path):
    out = tmp_path / "run"
    assert train_in_process(job(bimodal_root, out, "--steps=1")) == 0
    line = one_error_line(run_cli(["lerobot-train-ext", *job(bimodal_root, out)], check=False))
    assert (
        f"--output_dir={out} already exists: continue it with the same command and --auto_resume=true" in line
    )
    assert f"--resume=true --config_path={out}/checkpoints/last/pretrained_model/train_config.json" in line


def test_a_dataset_root_without_a_dataset_is_named_before_the_hub(tmp_path, capsys):
    (tmp_path / "robocasa" / "videos").mkdir(parents=True)
    args = [*dataset_flags(tmp_path / "robocasa"), *TINY_DIFFUSION, f"--output_dir={tmp_path / 'run'}"]
    assert train_in_process(args) == 2
    error = capsys.readouterr().err
    assert f"--dataset.root={tmp_path / 'robocasa'} has no meta/info.json (it holds: videos)" in error
    assert "nothing was fetched from the Hub" in error
    assert train_in_process([*dataset_flags(tmp_path / "typo"), *TINY_DIFFUSION]) == 2
    assert f"--dataset.root={tmp_path / 'typo'} does not exist" in capsys.readouterr().err


def test_a_disk_without_room_for_one_checkpoint_is_refused_before_training(
    bimodal_root, tmp_path, monkeypatch, capsys
):
    # long_runs checks in policy_made: the policy exists (its size is known), no step ran yet.
    assert "policy_made" in next(i.hooks for i in load_plugins(environ={}).infos if i.name == "long_runs")
    monkeypatch.setattr(first_hour.shutil, "disk_usage", lambda path: types.SimpleNamespace(free=1000))
    out = tmp_path / "run"
    assert train_in_process(job(bimodal_root, out)) == 2
    error = capsys.readouterr().err
    assert f"--output_dir={out} is on a disk with 0.00 GB free, but one checkpoint of this" in error
    assert "M-parameter policy needs about" in error
    assert not (out / "checkpoints").exists()


def test_offline_with_a_hub_policy_path_that_is_not_cached_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty_cache"))
    args = [
        "--policy.path=lab/never_downloaded_policy",
        "--dataset.repo_id=x/y",
        f"--output_dir={tmp_path / 'run'}",
    ]
    assert train_in_process(args) == 2
    error = capsys.readouterr().err
    assert (
        "HF_HUB_OFFLINE is set and --policy.path=lab/never_downloaded_policy is not in the local Hugging Face cache"
        in error
    )
