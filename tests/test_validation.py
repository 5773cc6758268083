"""The ``validation`` plugin (the executed-action error on ``--dataset.eval_split``'s held-out
episodes, ``checkpoints/best``), ``lerobot-ext compare``, and the ``long_runs`` plugin's guard
against non-finite losses and its ``--optimizer.lr`` for a continued run."""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import types

import pytest
import torch
from helpers import (
    TINY_ACT,
    TINY_DIFFUSION,
    TINY_FLOW,
    TINY_SMOLVLA,
    dataset_flags,
    load_weights,
    run_cli,
    same_tensors,
    train_in_process,
)

from lerobot_ext import hookimpl
from lerobot_ext.long_runs.finite_guard import NonFiniteTrainingError, check_step
from lerobot_ext.long_runs.learning_rate import apply_new_lr
from lerobot_ext.long_runs.retention import prune
from lerobot_ext.validation.action_error import ActionError, executed_window
from lerobot_ext.validation.compare import compare_checkpoints, held_out_episodes
from lerobot_ext.validation.compare import run as compare_run
from lerobot_ext.validation.records import best_checkpoint, point_best, write_record

POLICIES = {"act": TINY_ACT, "diffusion": TINY_DIFFUSION, "flow": TINY_FLOW}


def job(root, out, policy="flow", steps=4, *extra):
    return [
        *dataset_flags(root),
        *POLICIES[policy],
        f"--steps={steps}",
        "--save_freq=2",
        "--seed=3",
        "--dataset.eval_split=0.25",
        "--eval_steps=2",
        f"--output_dir={out}",
        *extra,
    ]


def rows(out):
    return list(csv.DictReader((out / "validation.csv").read_text().splitlines()))


class DatasetsSeen:
    """Records the datasets upstream trains and evaluates on."""

    def __init__(self) -> None:
        self.seen: list[tuple[list[int], list[int] | None]] = []

    @hookimpl
    def datasets_ready(self, dataset, eval_dataset):
        self.seen.append(
            (list(dataset.episodes), None if eval_dataset is None else list(eval_dataset.episodes))
        )


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["act", "diffusion", "flow", "smolvla"])
def test_every_checkpoint_carries_its_held_out_error_and_best_points_at_the_lowest(
    policy, request, tmp_path, extra_entry_points
):
    seen = DatasetsSeen()
    extra_entry_points("datasets_seen", seen)
    out = tmp_path / "run"
    if policy == "smolvla":  # a VLA needs a camera and a task: the RoboCasa-layout data
        root = request.getfixturevalue("robocasa_root")
        vlm = request.getfixturevalue("tiny_smolvlm")
        flags = [*TINY_SMOLVLA, f"--policy.vlm_model_name={vlm}"]
    else:
        root = request.getfixturevalue("bimodal_root")
        flags = POLICIES[policy]
    names = json.loads((root / "meta" / "info.json").read_text())["features"]["action"]["names"]
    args = [*dataset_flags(root), *flags, "--steps=6", "--save_freq=2", "--seed=3", "--dataset.eval_split=0.25",
            "--eval_steps=2", f"--output_dir={out}"]  # fmt: skip
    assert train_in_process(args) == 0
    table = rows(out)
    assert [int(r["step"]) for r in table] == [2, 4, 6]
    for row in table:
        # One column per action dim, named as the dataset names them.
        per_dim = [float(row[f"action_error.{name}"]) for name in names]
        assert all(math.isfinite(v) and v > 0 for v in per_dim)
        assert float(row["action_error"]) == pytest.approx(sum(per_dim) / len(per_dim), rel=1e-4)
        assert float(row["action_error_max"]) == pytest.approx(max(per_dim), rel=1e-4)
        assert math.isfinite(float(row["loss"]))
    # Each checkpoint holds the measurement of its own step, and best is the lowest of them.
    checkpoints = out / "checkpoints"
    records = {p.name: json.loads((p / "validation.json").read_text()) for p in checkpoints.glob("0*")}
    assert sorted(records) == ["000002", "000004", "000006"]
    assert all(records[name]["step"] == int(name) for name in records)
    lowest = min(records, key=lambda name: records[name]["action_error"])
    assert (checkpoints / "best").is_symlink() and (checkpoints / "best").resolve().name == lowest
    # The held-out episodes are upstream's split - the last quarter of the one task's 4 episodes -
    # and never trained on.
    train_episodes, eval_episodes = seen.seen[-1]
    assert eval_episodes == [3] and train_episodes == [0, 1, 2]
    # lerobot-ext compare measures best as the run did, and times a chunk from a robot's frame
    # (with its task, for the VLA).
    arguments = dict(root=str(root), repo_id=None, eval_split=None, frames=512, seed=0, batch_size=None)
    [compared] = compare_checkpoints(
        argparse.Namespace(checkpoints=[str(checkpoints / "best")], device=None, rounds=1, **arguments)
    )
    assert compared.step == int(lowest) and compared.policy == policy
    assert compared.measured.total == pytest.approx(records[lowest]["action_error"], rel=1e-6)
    assert compared.latency_s > 0


@pytest.mark.slow
def test_the_measurement_leaves_training_alone_and_is_the_same_on_the_same_weights(bimodal_root, tmp_path):
    measured, plain = tmp_path / "measured", tmp_path / "plain"
    assert train_in_process(job(bimodal_root, measured)) == 0
    assert train_in_process(job(bimodal_root, plain, "flow", 4, "--validation.enable=false")) == 0
    assert not (plain / "validation.csv").exists() and not (plain / "checkpoints" / "best").exists()
    assert same_tensors(
        load_weights(measured / "checkpoints" / "000004"), load_weights(plain / "checkpoints" / "000004")
    )
    # lerobot-ext compare measures a checkpoint exactly as the run did (same frames, same noise).
    result = run_cli(
        [
            "lerobot-ext",
            "compare",
            str(measured / "checkpoints" / "000002"),
            str(measured / "checkpoints" / "last"),
            f"--dataset.root={bimodal_root}",
            "--json",
        ],
        env={"HF_HUB_OFFLINE": "1"},
    )
    compared = json.loads(result.stdout.strip().splitlines()[-1])
    for entry, step in zip(compared, (2, 4), strict=True):
        saved = json.loads((measured / "checkpoints" / f"{step:06d}" / "validation.json").read_text())
        assert entry["step"] == step
        assert entry["action_error"] == pytest.approx(saved["action_error"], rel=1e-6)
        assert entry["action_error.vx"] == pytest.approx(saved["action_error.vx"], rel=1e-6)
        assert entry["latency_s"] > 0 and entry["control_period_s"] == pytest.approx(0.1)
        assert entry["fits_control_rate"] == (entry["latency_s"] <= entry["control_period_s"])
    assert compared[0]["action_error"] != compared[1]["action_error"]  # other weights, other error


@pytest.mark.slow
def test_compare_prints_a_table_and_a_chart(bimodal_root, tmp_path, capsys):
    out = tmp_path / "run"
    assert train_in_process(job(bimodal_root, out, "flow", 2)) == 0
    capsys.readouterr()
    chart = tmp_path / "compare.png"
    arguments = dict(
        root=str(bimodal_root), repo_id=None, eval_split=None, frames=512, seed=0, batch_size=None
    )
    namespace = argparse.Namespace(
        checkpoints=[str(out / "checkpoints" / "best")],
        device=None,
        rounds=1,
        chart=chart,
        json=False,
        **arguments,
    )
    assert compare_run(namespace) == 0
    header = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("| checkpoint"))
    assert "vx" in header and "chunk latency" in header and "fits" in header
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = run_cli(["lerobot-ext", "compare", str(tmp_path), f"--dataset.root={bimodal_root}"], check=False)
    assert bad.returncode == 2 and "is not a checkpoint" in bad.stderr and "Traceback" not in bad.stderr


class Unset(types.SimpleNamespace):
    """A config whose fields not given are None (upstream's split reads many it passes on)."""

    def __getattr__(self, name):
        return None


def test_held_out_episodes_are_upstreams_split():
    """The rule compare uses, against upstream's make_train_eval_datasets on the same tasks."""
    from unittest import mock

    from lerobot.datasets import factory

    tasks = [["a"], ["b"], ["a"], ["a"], ["b"], ["c"], ["a"]]
    made: list[list[int]] = []

    def fake_dataset(repo_id, episodes=None, **kwargs):
        made.append(episodes)
        return types.SimpleNamespace(episodes=episodes)

    for split in (0.1, 0.25, 0.5):
        dataset = types.SimpleNamespace(
            episodes=None, num_episodes=len(tasks), meta=types.SimpleNamespace(episodes={"tasks": tasks})
        )
        cfg = Unset(dataset=Unset(eval_split=split, image_transforms=Unset(enable=False)))
        with (
            mock.patch.object(factory, "make_dataset", return_value=dataset),
            mock.patch.object(factory, "resolve_delta_timestamps", return_value=None),
            mock.patch.object(factory, "LeRobotDataset", side_effect=fake_dataset),
        ):
            factory.make_train_eval_datasets(cfg)
        assert sorted(made[-1]) == held_out_episodes(tasks, split)
    assert held_out_episodes(tasks, 0) == list(range(len(tasks)))


def test_the_executed_part_of_a_chunk_is_where_the_current_frame_is():
    diffusion = types.SimpleNamespace(action_delta_indices=list(range(-1, 15)), n_action_steps=8)
    act = types.SimpleNamespace(action_delta_indices=list(range(100)), n_action_steps=100)
    assert executed_window(diffusion) == (1, 8) and executed_window(act) == (0, 100)


def test_best_follows_the_configured_metric_and_survives_pruning(tmp_path):
    checkpoints = tmp_path / "checkpoints"
    values = {2: (0.5, 0.9), 4: (0.2, 1.5), 6: (0.3, 0.4)}  # (action_error's dim 0, dim 1)
    for step, per_dim in values.items():
        (checkpoints / f"{step:06d}").mkdir(parents=True)
        write_record(checkpoints / f"{step:06d}", step, ActionError(list(per_dim), 0.0, 10, ["x", "y"]))
    assert best_checkpoint(checkpoints, "action_error")[0].name == "000006"  # mean 0.35
    assert best_checkpoint(checkpoints, "action_error.x")[0].name == "000004"
    assert best_checkpoint(checkpoints, "action_error_max")[0].name == "000006"
    assert point_best(checkpoints, checkpoints / "000004") and not point_best(
        checkpoints, checkpoints / "000004"
    )
    (checkpoints / "last").symlink_to("000006")
    # --keep_last_checkpoints=1 keeps what best and last point to, and nothing else.
    removed = prune(checkpoints, 1, 6)
    assert [p.name for p in removed] == ["000002"]
    assert (checkpoints / "best").resolve().name == "000004" and (checkpoints / "000004").is_dir()


def test_a_bad_metric_is_one_line(bimodal_root, tmp_path, capsys):
    out = tmp_path / "run"
    assert train_in_process(job(bimodal_root, out, "flow", 2, "--validation.metric=success")) == 2
    err = capsys.readouterr().err
    assert "--validation.metric=success is not a metric" in err and "Traceback" not in err
    assert train_in_process(job(bimodal_root, out, "flow", 2, "--validation.metric=action_error.elbow")) == 2
    err = capsys.readouterr().err
    assert "no dim of that name; they are vx, vy" in err
    assert not (out / "checkpoints").exists()


class NanFrom:
    """Makes the policy's loss NaN from training step ``step`` on (its backward poisons the weights)."""

    def __init__(self, step: int) -> None:
        self.step = step

    @hookimpl
    def policy_made(self, policy):
        original, calls = policy.forward, [0]

        def forward(batch, *args, **kwargs):
            loss, output = original(batch, *args, **kwargs)
            if policy.training:
                calls[0] += 1
                if calls[0] >= self.step:
                    loss = loss * float("nan")
            return loss, output

        policy.forward = forward


def test_a_nan_loss_stops_the_run_with_last_on_the_last_finite_checkpoint_and_it_continues_at_a_new_lr(
    bimodal_root, tmp_path, extra_entry_points, capsys
):
    fault = NanFrom(5)
    extra_entry_points("nan_from_step_5", fault)
    out = tmp_path / "run"
    flags = [*dataset_flags(bimodal_root), *TINY_FLOW, "--save_freq=2", "--seed=3", f"--output_dir={out}"]
    assert train_in_process([*flags, "--steps=6", "--auto_resume=true"]) == 2
    err = capsys.readouterr().err
    line = next(x for x in err.splitlines() if "step 5: the loss is nan" in x)
    assert "checkpoints/last is still step 000004" in line and "--optimizer.lr=<lower>" in line
    assert "Traceback" not in err
    checkpoints = out / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == ["000002", "000004", "last"]
    assert (checkpoints / "last").resolve().name == "000004"
    assert all(torch.isfinite(t).all() for t in load_weights(checkpoints / "000004").values())

    # The same command without the fault, at a tenth of the rate: it continues from step 4.
    fault.step = 10**9
    assert train_in_process([*flags, "--steps=6", "--auto_resume=true", "--optimizer.lr=1e-5"]) == 0
    err = capsys.readouterr().err
    assert "--optimizer.lr=1e-05: the continued run trains at this rate (the checkpoint's was 0.0001" in err
    state = json.loads((checkpoints / "000006" / "training_state" / "scheduler_state.json").read_text())
    assert state["base_lrs"] == [pytest.approx(1e-5)]


def test_a_checkpoint_with_non_finite_weights_is_never_committed(
    bimodal_root, tmp_path, extra_entry_points, capsys
):
    class PoisonBeforeSave:
        @hookimpl
        def policy_made(self, policy):
            self.policy = policy

        @hookimpl(tryfirst=True)
        def checkpoint_writing(self, step):
            if step == 4:
                with torch.no_grad():
                    next(self.policy.parameters()).fill_(float("inf"))

    extra_entry_points("poison", PoisonBeforeSave())
    out = tmp_path / "run"
    flags = [*dataset_flags(bimodal_root), *TINY_FLOW, "--save_freq=2", "--steps=4", f"--output_dir={out}"]
    assert train_in_process(flags) == 2
    assert "step 4: the weights are not finite" in capsys.readouterr().err
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["000002", "last"]


def test_a_skipped_mixed_precision_step_is_not_fatal():
    policy = torch.nn.Linear(2, 2)
    check_step(3, {"loss": 0.5, "grad_norm": float("inf")}, policy, None)  # weights finite: skipped step
    with pytest.raises(NonFiniteTrainingError, match="step 3: the gradient norm is inf"):
        with torch.no_grad():
            policy.weight.fill_(float("nan"))
        check_step(3, {"loss": 0.5, "grad_norm": float("inf")}, policy, None)
    with pytest.raises(NonFiniteTrainingError, match=r"step 7: the loss is nan; .*no checkpoint was saved"):
        check_step(7, {"loss": float("nan"), "grad_norm": 1.0}, None, None)


def test_a_new_lr_scales_the_loaded_rates_and_keeps_the_schedule():
    parameters = [torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))]
    optimizer = torch.optim.AdamW(
        [{"params": parameters[:1], "lr": 1e-3}, {"params": parameters[1:], "lr": 1e-4}]
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / 10))
    for _ in range(4):
        optimizer.step()
        scheduler.step()
    before = [g["lr"] for g in optimizer.param_groups]
    assert apply_new_lr(optimizer, scheduler, 5e-4) == pytest.approx(1e-3)
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([b / 2 for b in before])
    optimizer.step()
    scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(5e-4 * 0.6)  # the warm-up goes on from its step
    assert optimizer.param_groups[1]["lr"] == pytest.approx(5e-5 * 0.6)
    assert apply_new_lr(optimizer, scheduler, 5e-4) is None
    plain = torch.optim.SGD(parameters, lr=0.1)
    assert apply_new_lr(plain, None, 0.01) == pytest.approx(0.1) and plain.param_groups[0][
        "lr"
    ] == pytest.approx(0.01)


class RateToZero:
    """Sets every learning rate (and the schedule's base rates) to 0 once the optimizer is ready,
    recording what it was given."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, int, float]] = []

    @hookimpl
    def optimizer_ready(self, optimizer, lr_scheduler, start_step):
        self.seen.append((start_step, len(optimizer.state), lr_scheduler.get_last_lr()[0]))
        for group in optimizer.param_groups:
            group["lr"] = 0.0
        scheduler = getattr(lr_scheduler, "scheduler", lr_scheduler)  # accelerate's wrapper
        scheduler.base_lrs = [0.0 for _ in scheduler.base_lrs]  # the schedule recomputes from these


def test_optimizer_ready_gets_the_resumed_state_and_may_change_the_rate(
    bimodal_root, tmp_path, extra_entry_points
):
    out = tmp_path / "run"
    seen = DatasetsSeen()
    extra_entry_points("datasets_seen", seen)
    flags = [*dataset_flags(bimodal_root), *TINY_FLOW, "--save_freq=2", "--seed=3", f"--output_dir={out}",
             "--dataset.eval_split=0.25", "--eval_steps=2"]  # fmt: skip
    assert train_in_process([*flags, "--steps=2"]) == 0
    setter = RateToZero()
    extra_entry_points("rate_to_zero", setter)
    assert train_in_process([*flags, "--steps=4", "--auto_resume=true"]) == 0
    # The continued run holds out the same episodes, and best is chosen among every checkpoint,
    # those saved before the resume included (here equal weights, equal errors: the earlier wins).
    assert seen.seen[0] == seen.seen[1] == ([0, 1, 2], [3])
    assert (out / "checkpoints" / "best").resolve().name == "000002"
    # Called once, before the first update of the continued run, with the checkpoint's optimizer
    # state loaded; at rate 0 the two updates it made changed no weight.
    assert len(setter.seen) == 1 and setter.seen[0][:1] == (2,) and setter.seen[0][1] > 0
    assert same_tensors(
        load_weights(out / "checkpoints" / "000002"), load_weights(out / "checkpoints" / "000004")
    )


def test_each_measurement_goes_to_wandb_when_it_is_on(tmp_path, monkeypatch):
    from lerobot_ext.validation.plugin import ValidationPlugin

    logged = []
    fake = types.SimpleNamespace(
        run=types.SimpleNamespace(log=lambda values, step: logged.append((step, values)))
    )
    monkeypatch.setitem(sys.modules, "wandb", fake)
    cfg = types.SimpleNamespace(output_dir=tmp_path, wandb=types.SimpleNamespace(enable=True))
    ValidationPlugin()._report(cfg, 7, ActionError([0.25, 0.75], 0.5, 3, ["x", "gripper"]))
    assert logged == [
        (7, {"eval/action_error": 0.5, "eval/action_error_max": 0.75, "eval/loss": 0.5,
             "eval/action_error.x": 0.25, "eval/action_error.gripper": 0.75}),
    ]  # fmt: skip
    assert (tmp_path / "validation.csv").read_text().splitlines()[1] == "7,3,0.5,0.75,0.5,0.25,0.75"


def test_a_failing_measurement_is_one_line_and_training_goes_on(
    bimodal_root, tmp_path, extra_entry_points, capsys
):
    class BreakChunks:
        @hookimpl
        def policy_made(self, policy):
            def broken(batch, *args, **kwargs):
                raise RuntimeError("no chunk today")

            policy.predict_action_chunk = broken

    extra_entry_points("break_chunks", BreakChunks())
    out = tmp_path / "run"
    assert train_in_process(job(bimodal_root, out)) == 0
    err = capsys.readouterr().err
    assert "measuring the executed-action error failed at step 2 (RuntimeError: no chunk today)" in err
    assert (out / "checkpoints" / "000004").is_dir() and not (out / "checkpoints" / "best").exists()


def test_with_a_data_cache_the_held_out_episodes_still_never_reach_training(
    bimodal_root, tmp_path, extra_entry_points
):
    class Items:
        @hookimpl
        def datasets_ready(self, dataset, eval_dataset):
            self.train = {int(dataset[i]["episode_index"]) for i in range(len(dataset))}
            self.held_out = {int(eval_dataset[i]["episode_index"]) for i in range(len(eval_dataset))}

    items = Items()
    extra_entry_points("items", items)
    out = tmp_path / "run"
    assert train_in_process(job(bimodal_root, out, "flow", 2, f"--data_cache={tmp_path / 'cache'}")) == 0
    assert items.train == {0, 1, 2} and items.held_out == {3}
