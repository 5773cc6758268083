"""Long runs on rented machines: SIGTERM/SIGUSR1 stop cleanly with a checkpoint (workers
included), the same command with --auto_resume continues to the same weights, old checkpoints
are pruned, and the first hour's errors are one line each."""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import threading
import time
import types
from pathlib import Path

import pytest
from helpers import (
    BIN,
    REPO,
    TINY_DIFFUSION,
    dataset_flags,
    load_weights,
    run_cli,
    same_weights,
    train_in_process,
    write_plugin_distribution,
)

from lerobot_ext import hookimpl
from lerobot_ext.argv import normalize_argv
from lerobot_ext.dispatch import load_plugins
from lerobot_ext.flags import flag_values
from lerobot_ext.long_runs import first_hour
from lerobot_ext.long_runs.retention import prune


def signal_main_thread(sig: int) -> None:
    """What a scheduler's signal does, made deterministic for a test: the main thread blocks the
    stop signals during a run, so a signal sent to it waits there for the step's check."""
    signal.pthread_kill(threading.main_thread().ident, sig)


class Signals:
    """Sends a signal to this process after a given step; records the lifecycle."""

    def __init__(self, at_step: int | None = None, sig: int = signal.SIGTERM) -> None:
        self.at_step, self.sig = at_step, sig
        self.events: list[tuple[str, int]] = []

    @hookimpl
    def on_step_end(self, step):
        self.events.append(("step", step))
        if step == self.at_step:
            signal_main_thread(self.sig)

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
    # Handlers and the main thread's signal mask are put back after the run.
    assert signal.getsignal(sig) is signal.SIG_DFL
    assert sig not in signal.pthread_sigmask(signal.SIG_BLOCK, [])
    lines = [line for line in capsys.readouterr().err.splitlines() if "lerobot-ext:" in line]
    name = signal.Signals(sig).name
    # The core says what happened; how to go on is the long_runs plugin's to say.
    assert (
        f"WARNING lerobot-ext: stopped after step 2: {name} (plugin long_runs, rank 0); the checkpoint of "
        f"step 2 is complete in {checkpoints / '000002'}" in lines
    )
    assert "WARNING lerobot-ext: to continue this run to step 5: re-run the same command" in lines


PAUSE_AT_STEP = """
import os, time
from pathlib import Path
from lerobot_ext import hookimpl

@hookimpl
def on_step_end(step):
    # Hold the run at a known step until the test has signalled it (a scheduler's signal comes
    # at any time; this makes the step it lands on known).
    if step == int(os.environ.get("PAUSE_AT_STEP", "0")):
        folder = Path(os.environ["PAUSE_DIR"])
        (folder / "paused").write_text(str(step))
        deadline = time.monotonic() + 120
        while not (folder / "go").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
"""


@pytest.mark.slow
def test_sigterm_to_the_process_group_with_workers_then_the_same_command_ends_with_the_same_weights(
    bimodal_root, tmp_path
):
    """What ``docker stop``/SLURM do - signal every process of the group, DataLoader workers too -
    to a real lerobot-train-ext inside its second epoch; then the same command line again."""
    site = write_plugin_distribution(tmp_path / "site", "pause_at_step", PAUSE_AT_STEP)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
        "PYTHONUNBUFFERED": "1",
        "OMP_NUM_THREADS": "1",
        "PAUSE_DIR": str(tmp_path),
    }

    def command(out: Path) -> list[str]:
        # 80 frames in batches of 4: 20 steps an epoch; the stop lands in the second one.
        flags = [
            f for f in job(bimodal_root, out, "--steps=30", "--auto_resume=true") if "num_workers" not in f
        ]
        return [str(BIN / "lerobot-train-ext"), *flags, "--num_workers=2"]

    def start(out: Path, **extra: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            command(out),
            env={**env, **extra},
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group, as under a scheduler
        )

    out = tmp_path / "interrupted"
    run = start(out, PAUSE_AT_STEP="23")
    try:
        while not (tmp_path / "paused").exists():
            assert run.poll() is None, run.stdout.read()[-4000:]
            time.sleep(0.1)
        os.killpg(run.pid, signal.SIGTERM)  # the main process and its DataLoader workers
        (tmp_path / "go").write_text("")
        output, _ = run.communicate(timeout=300)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert run.returncode == 0, output[-4000:]
    assert "killed by signal" not in output
    checkpoints = out / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == ["000023", "last"]
    assert (checkpoints / "last").resolve() == (checkpoints / "000023").resolve()
    assert (checkpoints / "000023" / "training_state" / "training_step.json").is_file()

    run_cli(command(out), env=env, timeout=300)
    # The uninterrupted run, here: forked workers start faster and serve the same batches (the
    # order is the sampler's; persistent workers draw their seed once, whatever the start method).
    whole = tmp_path / "whole"
    assert train_in_process([*command(whole)[1:], "--dataloader_multiprocessing_context=fork"]) == 0
    assert same_weights(checkpoints / "000030", whole / "checkpoints" / "000030")


LOADER_LEFT_OPEN = """
import sys
import torch
from lerobot_ext.long_runs.signals import StopOnSignal

if __name__ == "__main__":
    stopper = StopOnSignal()
    stopper.install()
    loader = torch.utils.data.DataLoader(
        list(range(64)), batch_size=2, num_workers=2, multiprocessing_context=sys.argv[1]
    )
    batches = iter(loader)  # kept open to the end, as lerobot-train keeps its training loader
    next(batches)
    stopper.uninstall()
    print(" ".join(str(worker.pid) for worker in batches._workers), flush=True)
"""


@pytest.mark.parametrize("context", ["spawn", "fork"])
def test_a_process_whose_workers_block_the_stop_signals_still_exits(tmp_path, context):
    """The workers inherit the blocked SIGTERM, so multiprocessing's exit (terminate, then join)
    cannot end them; the run must still exit, and leave no worker behind."""
    script = tmp_path / "loader_left_open.py"
    script.write_text(LOADER_LEFT_OPEN)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # run_cli fails the test with the stacks of a process that does not exit after its last line.
    done = run_cli(["python", str(script), context], env=env, timeout=120)
    assert "Traceback" not in done.stderr, done.stderr[-3000:]  # torch's "worker killed by signal"
    pids = [int(pid) for pid in done.stdout.split()]
    assert len(pids) == 2
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


@pytest.mark.slow
@pytest.mark.parametrize("stop", [23, 20], ids=["in_the_second_epoch", "at_the_end_of_the_first"])
def test_an_interrupted_run_resumed_in_a_later_epoch_ends_with_the_same_weights(
    stop, bimodal_root, tmp_path, extra_entry_points
):
    """Stopped in the second epoch (20 steps an epoch) or right at the end of the first,
    continued with --auto_resume and with a plain --resume: both end where the uninterrupted run
    does, bit for bit (the long_runs plugin's before_first_batch puts the dataloader in the
    checkpoint's epoch; first_batch_ready puts the random state back only mid-epoch)."""
    whole = tmp_path / "whole"
    assert train_in_process(job(bimodal_root, whole, "--steps=30")) == 0
    interrupted = tmp_path / "interrupted"
    command = job(bimodal_root, interrupted, "--steps=30", "--auto_resume=true")
    stopper = Signals(at_step=stop)
    extra_entry_points("signals", stopper)
    assert train_in_process(command) == 0
    assert (interrupted / "checkpoints" / f"{stop:06d}").is_dir()
    stopper.at_step = None
    copy = tmp_path / "copy"
    shutil.copytree(interrupted, copy, symlinks=True)

    assert train_in_process(command) == 0  # the same command line, re-run
    assert stopper.events[-3:] == [("step", 30), ("checkpoint", 30), ("end", 30)]
    assert same_weights(interrupted / "checkpoints" / "000030", whole / "checkpoints" / "000030")

    config = copy / "checkpoints" / "last" / "pretrained_model" / "train_config.json"
    assert train_in_process(["--resume=true", f"--config_path={config}", f"--output_dir={copy}"]) == 0
    assert same_weights(copy / "checkpoints" / "000030", whole / "checkpoints" / "000030")


def test_a_second_signal_while_saving_does_not_interrupt_the_checkpoint(
    bimodal_root, tmp_path, extra_entry_points, monkeypatch, capsys
):
    from lerobot.scripts import lerobot_train

    original = lerobot_train.save_checkpoint

    @functools.wraps(original)
    def save_and_get_signalled(*args, **kwargs):
        signal_main_thread(signal.SIGTERM)  # the scheduler insists, mid-save
        os.kill(os.getpid(), signal.SIGTERM)  # and to the whole process
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
import os, signal, threading
from lerobot_ext import hookimpl

@hookimpl
def on_step_end(step, rank):
    if step == 2 and rank == 1:
        signal.pthread_kill(threading.main_thread().ident, signal.SIGTERM)

@hookimpl
def on_train_end(step, rank):
    with open(os.path.join(os.environ["STOP_LOG"], f"rank{rank}"), "w") as f:
        f.write(str(step))
"""


@pytest.mark.slow
def test_under_torchrun_the_ranks_agree_on_the_step_and_only_the_main_process_prunes(bimodal_root, tmp_path):
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
        *job(bimodal_root, out, "--save_freq=1", "--keep_last_checkpoints=1"),
    ]
    result = run_cli(command, env=env, timeout=300)
    assert result.returncode == 0
    assert {p.name: p.read_text() for p in logs.iterdir()} == {"rank0": "2", "rank1": "2"}
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["000002", "last"]


# --------------------------------------------------------------------------- auto resume


class CommandFlags:
    """Records what the run context's flags say during a run's configure."""

    def __init__(self) -> None:
        self.seen: dict[str, str] | None = None

    @hookimpl
    def configure(self, cfg, run):
        self.seen = run.flags


def test_both_flag_forms_read_the_same():
    config_class = load_plugins(environ={}).config_class
    args = normalize_argv(
        ["--steps", "9", "--batch_size=4", "--profile", "--batch_size", "8", "--policy.path", "lab/p"],
        config_class,
    )
    assert args == [
        "--steps=9",
        "--batch_size=4",
        "--profile.enable=true",
        "--batch_size=8",
        "--policy.path=lab/p",
    ]
    assert flag_values(args) == {
        "steps": "9",
        "profile.enable": "true",
        "batch_size": "8",
        "policy.path": "lab/p",
    }


@pytest.mark.slow
def test_auto_resume_checks_each_flag_whichever_way_it_is_written(
    bimodal_root, tmp_path, capsys, extra_entry_points
):
    recorder = CommandFlags()
    extra_entry_points("command_flags", recorder)
    out = tmp_path / "run"
    assert train_in_process(job(bimodal_root, out, "--auto_resume=true", "--steps=2")) == 0  # starts it
    # The space-separated form is checked like the other one: a changed value is refused ...
    changed = job(bimodal_root, out, "--auto_resume=true", "--steps", "3", "--batch_size", "8")
    assert train_in_process(changed) == 2
    error = capsys.readouterr().err
    assert (
        f"--auto_resume=true would continue the run in {out}, but this command sets --batch_size=8" in error
    )
    assert "(the run in progress has 4)" in error
    assert "--steps=3" not in error  # --steps may change
    # ... and the same value, written either way, agrees (the list too).
    same = job(bimodal_root, out, "--auto_resume=true", "--steps", "3", "--batch_size", "4")
    same = [a for a in same if not a.startswith("--policy.down_dims")] + [
        "--policy.down_dims",
        "[16, 32, 64]",
    ]
    assert train_in_process(same) == 0
    assert (out / "checkpoints" / "000003").is_dir()
    # What a plugin reads through run.flags: the command as typed, normalised.
    assert recorder.seen is not None
    assert (recorder.seen["steps"], recorder.seen["batch_size"]) == ("3", "4")
    assert recorder.seen["policy.down_dims"] == "[16, 32, 64]"


@pytest.mark.slow
def test_a_fine_tuning_run_auto_resumes(bimodal_root, tmp_path, extra_entry_points, capsys):
    base = tmp_path / "base"
    assert train_in_process(job(bimodal_root, base, "--steps=1")) == 0
    pretrained = base / "checkpoints" / "000001" / "pretrained_model"
    out = tmp_path / "finetune"
    finetune = [
        *dataset_flags(bimodal_root),
        f"--policy.path={pretrained}",
        "--policy.device=cpu",
        "--policy.push_to_hub=false",
        "--wandb.enable=false",
        "--num_workers=0",
        "--batch_size=4",
        "--seed=7",
        "--save_freq=100",
        f"--output_dir={out}",
        "--auto_resume=true",
    ]
    stopper = Signals(at_step=1)
    extra_entry_points("signals", stopper)
    assert train_in_process([*finetune, "--steps=3"]) == 0
    stopper.at_step = 2
    assert train_in_process([*finetune, "--steps=3"]) == 0  # resumed once, stopped again
    stopper.at_step = None
    assert train_in_process([*finetune, "--steps=3"]) == 0  # its saved config is a resume's now
    assert [e for e in stopper.events if e[0] == "end"] == [("end", 1), ("end", 2), ("end", 3)]
    capsys.readouterr()
    other = base / "checkpoints" / "last" / "pretrained_model"
    moved = [a if not a.startswith("--policy.path=") else f"--policy.path={other}" for a in finetune]
    assert train_in_process([*moved, "--steps=4"]) == 2
    assert (
        f"--policy.path={other} (the run in progress was started from '{pretrained}')"
        in capsys.readouterr().err
    )


@pytest.mark.slow
def test_a_run_moved_to_another_folder_continues_there(bimodal_root, tmp_path, extra_entry_points):
    first = tmp_path / "first"
    extra_entry_points("signals", Signals(at_step=1))
    assert train_in_process(job(bimodal_root, first, "--steps=2", "--auto_resume=true")) == 0
    moved = tmp_path / "moved"
    shutil.move(first, moved)
    assert train_in_process(job(bimodal_root, moved, "--steps=2", "--auto_resume=true")) == 0
    assert sorted(p.name for p in (moved / "checkpoints").iterdir()) == ["000001", "000002", "last"]
    assert not first.exists()  # nothing written where the saved config says the run was


@pytest.mark.slow
def test_auto_resume_starts_afresh_beside_a_run_killed_before_its_first_checkpoint(
    tmp_path, bimodal_root, capsys
):
    out = tmp_path / "run"
    (out / "checkpoints" / "000100.partial").mkdir(parents=True)  # SIGKILL during the first save
    (out / "train.log").write_text("...")
    assert train_in_process(job(bimodal_root, out, "--steps=2", "--save_freq=2", "--auto_resume=true")) == 0
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["000002", "last"]
    (aside,) = tmp_path.glob("run.interrupted-*")  # moved, not deleted
    assert (aside / "train.log").read_text() == "..."
    assert (aside / "checkpoints" / "000100.partial").is_dir()
    assert f"moved it to {aside} (nothing deleted) and starting the run afresh" in capsys.readouterr().err


def test_auto_resume_refuses_a_complete_checkpoint_without_last(tmp_path, bimodal_root, capsys):
    out = tmp_path / "run"
    (out / "checkpoints" / "000200" / "pretrained_model").mkdir(parents=True)  # copied without `last`
    assert train_in_process(job(bimodal_root, out, "--auto_resume=true")) == 2
    assert f"`ln -s 000200 {out / 'checkpoints' / 'last'}`" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # nothing moved
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["000200"]


def test_the_other_processes_wait_for_the_main_one_to_move_the_folder(tmp_path, monkeypatch):
    from lerobot_ext.errors import ConfigError
    from lerobot_ext.long_runs import auto_resume

    out = tmp_path / "run"
    out.mkdir()
    monkeypatch.setenv("RANK", "1")
    mover = threading.Timer(0.3, lambda: out.rename(tmp_path / "moved"))
    mover.start()
    auto_resume._start_afresh_beside(out, rank=1)  # returns once the main process moved it
    mover.join()
    assert not out.exists() and (tmp_path / "moved").is_dir()

    out.mkdir()
    monkeypatch.setattr(auto_resume, "_WAIT_FOR_MAIN_S", 0.2)
    with pytest.raises(ConfigError, match=r"rank 1 waited 0 s for the main process to move"):
        auto_resume._start_afresh_beside(out, rank=1)
    assert out.is_dir()  # a non-main process never moves it itself


def test_the_ways_to_continue_are_one_at_a_time(tmp_path, bimodal_root, capsys):
    out = tmp_path / "run"
    assert train_in_process(job(bimodal_root, out, "--auto_resume=true", "--resume=true")) == 2
    assert "--auto_resume=true and --resume=true are two ways to continue a run" in capsys.readouterr().err
    assert train_in_process(job(bimodal_root, out, "--resume=true")) == 2
    error = capsys.readouterr().err
    assert (
        "--resume=true needs --config_path=<run>/checkpoints/last/pretrained_model/train_config.json" in error
    )
    assert "Traceback" not in error
    assert not out.exists()


# --------------------------------------------------------------------------- retention


def test_retention_keeps_the_newest_of_the_run_and_what_a_rollback_left(tmp_path):
    checkpoints = tmp_path / "checkpoints"
    for step in (2, 4, 5, 6, 8):
        (checkpoints / f"{step:06d}" / "pretrained_model").mkdir(parents=True)
    (checkpoints / "000010.partial").mkdir()  # a save in progress is not a checkpoint yet
    # A rollback: the user moved `last` back to 4, the run continued from there and saved 5.
    (checkpoints / "last").symlink_to("000005")
    removed = prune(checkpoints, keep=2, step=5)
    assert [p.name for p in removed] == ["000002"]
    # 6 and 8 are newer than the run's line: left alone until the run saves those steps again.
    assert sorted(p.name for p in checkpoints.iterdir()) == [
        "000004",
        "000005",
        "000006",
        "000008",
        "000010.partial",
        "last",
    ]
    # `last` pointing elsewhere (moved by hand) keeps what it points to.
    (checkpoints / "last").unlink()
    (checkpoints / "last").symlink_to("000004")
    assert prune(checkpoints, keep=1, step=5) == []


@pytest.mark.slow
def test_keep_last_checkpoints_prunes_a_resumed_run(bimodal_root, tmp_path):
    out = tmp_path / "run"
    assert train_in_process(job(bimodal_root, out, "--steps=3", "--save_freq=1", "--auto_resume=true")) == 0
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["000001", "000002", "000003", "last"]
    # Continued with retention on: the older checkpoints of the run go too, once newer ones exist.
    more = job(
        bimodal_root, out, "--steps=5", "--save_freq=1", "--auto_resume=true", "--keep_last_checkpoints=2"
    )
    assert train_in_process(more) == 0
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


def test_an_incomplete_dataset_root_names_what_is_missing(bimodal_root, tmp_path, capsys):
    root = tmp_path / "bimodal"
    (root / "meta").mkdir(parents=True)
    shutil.copy(bimodal_root / "meta" / "info.json", root / "meta" / "info.json")
    args = [*dataset_flags(root), *TINY_DIFFUSION, f"--output_dir={tmp_path / 'run'}"]
    assert train_in_process(args) == 2
    error = capsys.readouterr().err
    assert (
        f"--dataset.root={root} is not a complete LeRobot dataset: no meta/stats.json (the normalisation "
        "statistics); no meta/tasks.parquet; no meta/episodes/ (the episodes' parquet files)" in error
    )
    # meta/ complete, a data file gone (a partial copy): named, still before any download.
    shutil.rmtree(root)
    shutil.copytree(bimodal_root, root)
    data_file = sorted((root / "data").glob("**/*.parquet"))[0]
    data_file.unlink()
    assert train_in_process(args) == 2
    error = capsys.readouterr().err
    assert (
        f"is not a complete LeRobot dataset: 1 of its 1 data and video files are missing ({data_file.relative_to(root)})"
        in error
    )
    assert "Traceback" not in error and "nothing was fetched from the Hub" in error


@pytest.mark.slow
def test_the_disk_estimate_covers_a_checkpoint_with_ema(bimodal_root, tmp_path):
    out = tmp_path / "run"
    assert train_in_process(job(bimodal_root, out, "--steps=1", "--ema.enable=true")) == 0
    checkpoint = out / "checkpoints" / "000001"
    assert (checkpoint / "pretrained_model_ema").is_dir() and (
        checkpoint / "training_state" / "ema_state.pt"
    ).is_file()
    written = sum(p.stat().st_size for p in checkpoint.rglob("*") if p.is_file())
    policy = types.SimpleNamespace(parameters=lambda: list(load_weights(checkpoint).values()))
    estimate = first_hour.checkpoint_bytes(policy, ema=True)
    assert written <= estimate < 2 * written


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
