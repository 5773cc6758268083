"""Every hook fires, in order, with the documented arguments (a datasette-style meta-test)."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import pytest
from helpers import TINY_DIFFUSION, dataset_flags

from lerobot_ext import hookimpl, hookspecs
from lerobot_ext.cli.train import main
from lerobot_ext.config import ExtTrainPipelineConfig
from lerobot_ext.step_timing import PHASES

HOOK_NAMES = sorted(
    name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(fn, "lerobot_ext_spec")
)


class Recorder:
    """Implements every hook and records each call."""

    def __init__(self, fail_at_step: int | None = None) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.fail_at_step = fail_at_step

    def _record(self, name: str, **kwargs) -> None:
        self.calls.append((name, kwargs))

    @hookimpl
    def register_policies(self, register):
        self._record("register_policies", register=register)

    @hookimpl
    def register_robot_adapters(self, register):
        self._record("register_robot_adapters", register=register)

    @hookimpl
    def register_transforms(self, register):
        self._record("register_transforms", register=register)

    @hookimpl
    def register_upstream_names(self, register):
        self._record("register_upstream_names", register=register)

    @hookimpl
    def configure(self, cfg):
        self._record("configure", cfg=cfg)

    @hookimpl
    def configure_policy(self, cfg, policy_cfg, dataset_meta):
        self._record("configure_policy", cfg=cfg, policy_cfg=policy_cfg, dataset_meta=dataset_meta)

    @hookimpl
    def step_phase_timing(self, cfg):
        self._record("step_phase_timing", cfg=cfg)
        return True

    @hookimpl
    def on_train_start(self, cfg, rank, world_size, start_step, device):
        self._record(
            "on_train_start", cfg=cfg, rank=rank, world_size=world_size, start_step=start_step, device=device
        )

    @hookimpl
    def on_step_end(self, cfg, step, metrics, rank, world_size):
        self._record("on_step_end", step=step, metrics=dict(metrics), rank=rank, world_size=world_size)
        if step == self.fail_at_step:
            raise RuntimeError(f"plugin failure at step {step}")

    @hookimpl
    def on_step_phases(self, cfg, step, phases, rank, world_size):
        self._record("on_step_phases", step=step, phases=dict(phases), rank=rank, world_size=world_size)

    @hookimpl
    def on_checkpoint_saved(self, cfg, step, checkpoint_dir, rank):
        complete = (Path(checkpoint_dir) / "pretrained_model" / "model.safetensors").is_file()
        self._record(
            "on_checkpoint_saved",
            step=step,
            checkpoint_dir=Path(checkpoint_dir),
            rank=rank,
            complete=complete,
        )

    @hookimpl
    def on_train_end(self, cfg, step, rank, world_size):
        self._record("on_train_end", cfg=cfg, step=step, rank=rank, world_size=world_size)

    @hookimpl
    def on_exception(self, cfg, exception, rank):
        self._record("on_exception", exception=exception, rank=rank)

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


def _train(
    root: Path, output_dir: Path, steps: int, monkeypatch: pytest.MonkeyPatch, extra: list[str] = ()
) -> int:
    monkeypatch.setattr(sys, "argv", ["lerobot-train-ext"])
    args = [*dataset_flags(root), *TINY_DIFFUSION, f"--steps={steps}", "--save_freq=2", "--log_freq=1"]
    return main([*args, f"--output_dir={output_dir}", *extra])


def test_the_recorder_covers_every_hookspec() -> None:
    implemented = sorted(name for name in vars(Recorder) if name in HOOK_NAMES)
    assert implemented == HOOK_NAMES
    assert len(HOOK_NAMES) == 13  # 4 registration, 3 transforming, 6 lifecycle


def test_every_hook_fires_in_order_with_documented_arguments(
    bimodal_root, tmp_path, extra_entry_points, monkeypatch
):
    recorder = Recorder()
    extra_entry_points("recorder", recorder)
    assert _train(bimodal_root, tmp_path / "run", 3, monkeypatch) == 0

    names = recorder.names()
    assert set(names) == set(HOOK_NAMES) - {"on_exception"}
    expected = [
        "register_policies",
        "register_robot_adapters",
        "register_transforms",
        "register_upstream_names",
        "configure",
        "step_phase_timing",
        "configure_policy",
        "on_train_start",
        "on_step_end",
        "on_step_phases",
        "on_step_end",
        "on_step_phases",
        "on_checkpoint_saved",
        "on_step_end",
        "on_step_phases",
        "on_checkpoint_saved",
        "on_train_end",
    ]
    assert names == expected

    calls = dict(recorder.calls)  # last call of each name
    assert callable(calls["register_policies"]["register"])
    assert isinstance(calls["configure"]["cfg"], ExtTrainPipelineConfig)
    assert calls["configure_policy"]["policy_cfg"].type == "diffusion"
    assert calls["configure_policy"]["dataset_meta"].features["action"]["shape"] == (2,)
    assert calls["on_train_start"] == {
        "cfg": calls["configure"]["cfg"],
        "rank": 0,
        "world_size": 1,
        "start_step": 0,
        "device": "cpu",
    }
    step_ends = [kw for name, kw in recorder.calls if name == "on_step_end"]
    assert [kw["step"] for kw in step_ends] == [1, 2, 3]
    for kw in step_ends:
        assert {"loss", "grad_norm", "lr", "update_s", "dataloading_s"} <= set(kw["metrics"])
        assert kw["metrics"]["loss"] > 0 and (kw["rank"], kw["world_size"]) == (0, 1)
    phases = [kw["phases"] for name, kw in recorder.calls if name == "on_step_phases"]
    assert all(set(p) == {*PHASES, "step", "between_steps"} and p["step"] > 0 for p in phases)
    saved = [kw for name, kw in recorder.calls if name == "on_checkpoint_saved"]
    assert [(kw["step"], kw["checkpoint_dir"].name, kw["complete"]) for kw in saved] == [
        (2, "000002", True),
        (3, "000003", True),
    ]
    assert calls["on_train_end"]["step"] == 3 and calls["on_train_end"]["world_size"] == 1


def test_on_exception_fires_with_the_exception(bimodal_root, tmp_path, extra_entry_points, monkeypatch):
    recorder = Recorder(fail_at_step=2)
    extra_entry_points("recorder", recorder)
    with pytest.raises(RuntimeError, match="plugin failure at step 2"):
        _train(bimodal_root, tmp_path / "run", 4, monkeypatch)
    names = recorder.names()
    assert names[-1] == "on_exception" and "on_train_end" not in names
    exception = recorder.calls[-1][1]["exception"]
    assert isinstance(exception, RuntimeError) and str(exception) == "plugin failure at step 2"
    # The failed step never produced a checkpoint.
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_without_timing_requests_no_phases_are_measured(
    bimodal_root, tmp_path, extra_entry_points, monkeypatch
):
    class Quiet:
        def __init__(self) -> None:
            self.calls: list[int] = []

        @hookimpl
        def on_step_phases(self, step):
            self.calls.append(step)

    quiet = Quiet()
    extra_entry_points("quiet", quiet)
    assert _train(bimodal_root, tmp_path / "run", 2, monkeypatch) == 0
    assert quiet.calls == []
