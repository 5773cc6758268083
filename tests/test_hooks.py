"""Every hook fires, in order, with the documented arguments (a datasette-style meta-test)."""

from __future__ import annotations

import ast
import inspect
import json
import logging
import sys
import types
from pathlib import Path

import pytest
from helpers import IMAGE_FLAGS, TINY_DIFFUSION, all_hookspecs, dataset_flags

from lerobot_ext import hookimpl, hookspecs
from lerobot_ext.cli.train import main
from lerobot_ext.config import ExtTrainPipelineConfig
from lerobot_ext.errors import PluginLoadError
from lerobot_ext.hookspecs import hookspec
from lerobot_ext.step_timing import PHASE_KEYS, STEP

HOOK_NAMES = sorted(
    name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(fn, "lerobot_ext_spec")
)
# ... and the hooks the installed plugins add with register_hookspecs.
EVERY_HOOK = sorted(all_hookspecs())


class Recorder:
    """Implements every hook and records each call."""

    def __init__(self, fail_at_step: int | None = None) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.fail_at_step = fail_at_step

    def _record(self, name: str, **kwargs) -> None:
        self.calls.append((name, kwargs))

    @hookimpl
    def register_hookspecs(self, register):
        self._record("register_hookspecs", register=register)

    @hookimpl
    def register_policies(self, register):
        self._record("register_policies", register=register)

    @hookimpl
    def register_robot_adapters(self, register):
        self._record("register_robot_adapters", register=register)

    @hookimpl
    def register_config_fields(self, register):
        self._record("register_config_fields", register=register)

    @hookimpl
    def register_commands(self, register):
        self._record("register_commands", register=register)

    @hookimpl
    def register_upstream_names(self, register):
        self._record("register_upstream_names", register=register)

    @hookimpl
    def configure(self, cfg):
        self._record("configure", cfg=cfg)

    @hookimpl
    def configure_policy(self, cfg, policy_cfg, dataset_meta, planned):
        self._record(
            "configure_policy", cfg=cfg, policy_cfg=policy_cfg, dataset_meta=dataset_meta, planned=planned
        )

    @hookimpl
    def step_phase_timing(self, cfg):
        self._record("step_phase_timing", cfg=cfg)
        return True

    @hookimpl(tryfirst=True)  # asked before the robot_adapters plugin, whose answer would win
    def select_robot_adapter(self, cfg, dataset, adapters):
        self._record("select_robot_adapter", cfg=cfg, dataset=dataset, adapters=adapters)

    @hookimpl(order=90)
    def transform_dataset(self, cfg, dataset, adapter, run_datasets):
        self._record(
            "transform_dataset", cfg=cfg, dataset=dataset, adapter=adapter, run_datasets=run_datasets
        )

    @hookimpl
    def more_datasets(self, cfg):
        self._record("more_datasets", cfg=cfg)

    @hookimpl
    def combine_datasets(self, cfg, parts):
        self._record("combine_datasets", cfg=cfg, parts=parts)

    @hookimpl
    def compare_datasets(self, parts):
        self._record("compare_datasets", parts=parts)

    @hookimpl
    def make_sampler(self, cfg, dataset, arguments):
        self._record("make_sampler", cfg=cfg, dataset=dataset, arguments=arguments)

    @hookimpl
    def check_checkpoint(self, cfg, checkpoint, planned):
        self._record("check_checkpoint", cfg=cfg, checkpoint=checkpoint, planned=planned)

    @hookimpl
    def doctor_report(self):
        self._record("doctor_report")

    @hookimpl
    def checkpoint_loading(self, policy_cfg, pretrained_path):
        self._record("checkpoint_loading", policy_cfg=policy_cfg, pretrained_path=pretrained_path)

    @hookimpl
    def wrap_dataset(self, cfg, dataset, role, planned, source):
        self._record("wrap_dataset", cfg=cfg, dataset=dataset, role=role, planned=planned, source=source)

    @hookimpl
    def datasets_ready(self, cfg, dataset, eval_dataset, rank):
        self._record("datasets_ready", dataset=dataset, eval_dataset=eval_dataset, rank=rank)

    @hookimpl
    def optimizer_ready(self, cfg, optimizer, lr_scheduler, start_step, rank):
        self._record(
            "optimizer_ready",
            optimizer=optimizer,
            lr_scheduler=lr_scheduler,
            start_step=start_step,
            rank=rank,
        )

    @hookimpl
    def env_policy_features(self, policy_cfg, env_features, checkpoint):
        self._record("env_policy_features", policy_cfg=policy_cfg, env_features=env_features)

    @hookimpl
    def policy_made(self, cfg, policy, rank):
        self._record("policy_made", cfg=cfg, policy=policy, rank=rank)

    @hookimpl
    def processors_made(self, cfg, preprocessor, postprocessor, rank):
        self._record("processors_made", preprocessor=preprocessor, postprocessor=postprocessor, rank=rank)

    @hookimpl
    def first_batch_ready(self, cfg, rank, start_step):
        self._record("first_batch_ready", rank=rank, start_step=start_step)

    @hookimpl
    def request_stop(self, cfg, step, rank, world_size):
        self._record("request_stop", step=step, rank=rank, world_size=world_size)

    @hookimpl
    def checkpoint_writing(self, cfg, step, checkpoint_dir, rank):
        self._record("checkpoint_writing", step=step, checkpoint_dir=checkpoint_dir, rank=rank)

    @hookimpl
    def before_first_batch(self, cfg, dataloader, start_step, rank):
        self._record("before_first_batch", dataloader=dataloader, start_step=start_step, rank=rank)

    @hookimpl
    def around_evaluation(self, cfg, policy, step, rank):
        self._record("around_evaluation", policy=policy, step=step, rank=rank)

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
    def on_phase_start(self, cfg, phase, rank):
        self._record("on_phase_start", phase=phase, rank=rank)

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
    assert len(HOOK_NAMES) == 36  # 6 register, 15 notify, 4 first result, 3 chain, 8 collect (dispatch.HOOKS)


def test_every_hook_fires_in_order_with_documented_arguments(
    bimodal_root, tmp_path, extra_entry_points, monkeypatch
):
    recorder = Recorder()
    extra_entry_points("recorder", recorder)
    # Every non-registration hook may take the run's context: one RunContext for the whole run.
    contexts: list[tuple[str, object]] = []

    def watching(hook: str):
        def implementation(run):
            contexts.append((hook, run))

        return hookimpl(order=95)(implementation) if hook == "transform_dataset" else hookimpl(implementation)

    watched = [name for name in HOOK_NAMES if not name.startswith("register_")]
    extra_entry_points("run_watcher", types.SimpleNamespace(**{name: watching(name) for name in watched}))
    assert _train(bimodal_root, tmp_path / "run", 3, monkeypatch) == 0

    from lerobot_ext.context import RunContext

    assert {hook for hook, _ in contexts} == set(recorder.names()) & set(watched)
    runs = {id(run) for _, run in contexts}
    assert len(runs) == 1 and isinstance(contexts[0][1], RunContext)
    run = contexts[-1][1]
    assert (run.command, run.rank, run.world_size, run.start_step) == ("train", 0, 1, 0)
    assert run.flags["steps"] == "3" and run.cfg is not None and run.cfg.steps == 3
    assert run.resuming is False

    names = recorder.names()
    # check_checkpoint, checkpoint_loading: only when starting from a checkpoint (test_resume.py,
    # test_third_party_plugin.py, test_self_contained.py);
    # env_policy_features: only in lerobot-eval-ext (test_inference.py); on_exception: below;
    # around_evaluation: only with an --env to evaluate in (below).
    assert set(names) == set(HOOK_NAMES) - {
        "on_exception",
        "check_checkpoint",
        "checkpoint_loading",
        "doctor_report",  # only in lerobot-ext doctor (test_hub_needs.py)
        "combine_datasets",  # only with datasets to combine (test_dataset_mix.py)
        "compare_datasets",  # only in lerobot-ext inspect DIR DIR...
        "env_policy_features",
        "around_evaluation",
    }
    expected = [
        "register_hookspecs",
        "register_policies",
        "register_robot_adapters",
        "register_config_fields",
        "register_commands",
        "register_upstream_names",
        "configure",
        "step_phase_timing",
        "more_datasets",
        "select_robot_adapter",
        "transform_dataset",
        "wrap_dataset",
        "datasets_ready",
        "configure_policy",
        "policy_made",
        "processors_made",
        "make_sampler",
        "on_train_start",
        "before_first_batch",
        "first_batch_ready",
        "optimizer_ready",
        "on_step_end",
        "on_step_phases",
        "request_stop",
        "on_step_end",
        "on_step_phases",
        "request_stop",
        "checkpoint_writing",
        "on_checkpoint_saved",
        "on_step_end",
        "on_step_phases",
        "request_stop",
        "checkpoint_writing",
        "on_checkpoint_saved",
        "on_train_end",
    ]
    # Each step's phases start in order (the device copy carved out of preprocess), then the time
    # between steps; the phase starts interleave with the rest, so they are checked on their own.
    phase_starts = [kw["phase"] for name, kw in recorder.calls if name == "on_phase_start"]
    per_step, current = [], []
    for phase in phase_starts:
        current.append(phase)
        if phase == "between_steps":
            per_step.append(current)
            current = []
    one_step = [
        "data_wait",
        "preprocess",
        "h2d_copy",
        "preprocess",
        "forward",
        "backward",
        "optimizer",
        "hooks",
    ]
    assert per_step == [[*one_step, "between_steps"]] * 3 and current == []
    assert [name for name in names if name != "on_phase_start"] == expected

    calls = dict(recorder.calls)  # last call of each name
    assert callable(calls["register_policies"]["register"])
    assert isinstance(calls["configure"]["cfg"], ExtTrainPipelineConfig)
    assert calls["select_robot_adapter"]["dataset"].width("action") == 2
    assert {"robocasa", "fourier_gr2"} <= set(calls["select_robot_adapter"]["adapters"])
    assert calls["transform_dataset"]["dataset"].features["action"]["shape"] == (2,)
    assert calls["wrap_dataset"]["role"] == "train" and not calls["wrap_dataset"]["planned"].changed
    # The dataset upstream trains on (no --dataset.eval_split here: no held-out one).
    assert calls["datasets_ready"]["eval_dataset"] is None and len(calls["datasets_ready"]["dataset"]) > 0
    # The optimizer and scheduler upstream steps, before the first update changed anything.
    assert calls["optimizer_ready"]["start_step"] == 0 and calls["optimizer_ready"]["rank"] == 0
    assert calls["optimizer_ready"]["optimizer"].param_groups[0]["lr"] > 0
    assert calls["configure_policy"]["policy_cfg"].type == "diffusion"
    assert calls["configure_policy"]["dataset_meta"].features["action"]["shape"] == (2,)
    # The run's planned changes, with the dataset before them.
    assert calls["configure_policy"]["planned"].original.features["action"]["shape"] == (2,)
    assert calls["on_train_start"] == {
        "cfg": calls["configure"]["cfg"],
        "rank": 0,
        "world_size": 1,
        "start_step": 0,
        "device": "cpu",
    }
    # The dataloader upstream iterates, before its first batch: the sampler at its start.
    assert calls["before_first_batch"]["start_step"] == 0 and calls["before_first_batch"]["rank"] == 0
    assert calls["before_first_batch"]["dataloader"].batch_sampler.sampler.state_dict()["epoch"] in (0, 1)
    step_ends = [kw for name, kw in recorder.calls if name == "on_step_end"]
    assert [kw["step"] for kw in step_ends] == [1, 2, 3]
    for kw in step_ends:
        assert {"loss", "grad_norm", "lr", "update_s", "dataloading_s"} <= set(kw["metrics"])
        assert kw["metrics"]["loss"] > 0 and (kw["rank"], kw["world_size"]) == (0, 1)
    phases = [kw["phases"] for name, kw in recorder.calls if name == "on_step_phases"]
    assert all(set(p) == set(PHASE_KEYS) and p[STEP] > 0 for p in phases)
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

    # One plugin's step_phase_timing returning True turns timing on, for every plugin.
    class Asks:
        @hookimpl
        def step_phase_timing(self, cfg):
            return cfg.steps == 2

    extra_entry_points("asks", Asks())
    assert _train(bimodal_root, tmp_path / "run2", 2, monkeypatch) == 0
    assert quiet.calls == [1, 2]


# --------------------------------------------------------------------------- one order for all hooks


class Ordered:
    """A plugin that records, for several kinds of hook, when it was called."""

    def __init__(self, name: str, log: list[tuple[str, str]]) -> None:
        self.name = name
        self.log = log

    def _note(self, hook: str) -> None:
        self.log.append((hook, self.name))


def ordered_plugin(name: str, log: list[tuple[str, str]], order: int, **marks: bool) -> Ordered:
    plugin = Ordered(name, log)

    def register_config_fields(register):
        plugin._note("register_config_fields")
        register(f"{name}_flag", int, 0)

    def configure(cfg):
        plugin._note("configure")

    def transform_dataset(dataset):
        plugin._note("transform_dataset")

    def on_step_end(step):
        plugin._note("on_step_end")

    for fn in (register_config_fields, configure, on_step_end):
        setattr(plugin, fn.__name__, hookimpl(**marks)(fn))
    # transform_dataset's order is saved in checkpoints: declared, never pluggy's.
    plugin.transform_dataset = hookimpl(order=order)(transform_dataset)
    return plugin


def test_one_order_for_every_hook_with_tryfirst_and_trylast_honoured() -> None:
    from helpers import context_of

    from lerobot_ext.dispatch import hooks_of, plugins_from
    from lerobot_ext.layout import DatasetDescription
    from lerobot_ext.training import configured, planned_changes

    log: list[tuple[str, str]] = []
    host = plugins_from(
        {
            "first_registered": ordered_plugin("first_registered", log, order=1, trylast=True),
            "second_registered": ordered_plugin("second_registered", log, order=2),
            "third_registered": ordered_plugin("third_registered", log, order=3),
            "pinned_first": ordered_plugin("pinned_first", log, order=4, tryfirst=True),
        }
    )
    hooks, run = hooks_of(host), context_of(host)
    configured(hooks, None, run)  # chain
    planned_changes(hooks, None, run, DatasetDescription(None, 10, {}, {}))  # chain, declared order
    hooks.notify("on_step_end", cfg=None, step=1, metrics={}, rank=0, world_size=1, run=run)  # notify
    expected = ["pinned_first", "third_registered", "second_registered", "first_registered"]
    by_hook: dict[str, list[str]] = {}
    for hook, plugin in log:
        by_hook.setdefault(hook, []).append(plugin)
    assert by_hook == {
        "register_config_fields": expected,
        "configure": expected,
        "transform_dataset": ["first_registered", "second_registered", "third_registered", "pinned_first"],
        "on_step_end": expected,
    }
    # What the registration order decides: the order of the flags.
    assert [spec.name for spec in host.registry.config_fields] == [f"{name}_flag" for name in expected]


# --------------------------------------------------------------------------- the phase marks


def test_every_phase_boundary_is_marked_in_a_real_run(bimodal_root, tmp_path, monkeypatch):
    from lerobot_ext.step_timing import Mark, StepClock

    seen: list[tuple[Mark, ...]] = []
    original = StepClock.phases

    def phases(self):
        seen.append(self.marks)
        return original(self)

    monkeypatch.setattr(StepClock, "phases", phases)
    assert (
        _train(bimodal_root, tmp_path / "run", 2, monkeypatch, ["--profile", "--profile.warmup_steps=0"]) == 0
    )
    assert len(seen) == 2
    for marks in seen:
        # Every boundary, once, in step order (the device copy sits inside the preprocess phase).
        assert list(marks) == [
            Mark.DATA_START,
            Mark.DATA_END,
            Mark.H2D_START,
            Mark.H2D_END,
            Mark.UPDATE_START,
            Mark.BACKWARD_START,
            Mark.OPTIMIZER_START,
            Mark.UPDATE_END,
            Mark.HOOKS_END,
        ]
    assert {m.value for m in Mark} == {m.value for m in seen[0]}


def test_processors_made_gets_the_pipelines_with_the_plugins_steps(
    robocasa_root, tmp_path, extra_entry_points, monkeypatch
):
    recorder = Recorder()
    extra_entry_points("recorder", recorder)
    monkeypatch.setattr(sys, "argv", ["lerobot-train-ext"])
    args = [*dataset_flags(robocasa_root), *TINY_DIFFUSION, *IMAGE_FLAGS, "--steps=1", "--action_keep_dims=7"]
    assert main([*args, f"--output_dir={tmp_path / 'run'}"]) == 0
    (call,) = [kw for name, kw in recorder.calls if name == "processors_made"]
    pre = [type(step).__name__ for step in call["preprocessor"].steps]
    post = [type(step).__name__ for step in call["postprocessor"].steps]
    assert pre[0] == "ActionSliceStep" and post[-1] == "ActionPadStep"  # the steps the run trains with
    assert call["rank"] == 0


def test_first_batch_ready_may_set_the_random_state_the_first_update_draws_from(
    bimodal_root, tmp_path, extra_entry_points, monkeypatch
):
    import torch
    from lerobot.policies.diffusion.modeling_diffusion import DiffusionPolicy

    seen: list[torch.Tensor] = []
    original = DiffusionPolicy.forward

    def forward(self, *args, **kwargs):
        seen.append(torch.random.get_rng_state())  # what the update's noise is drawn from
        return original(self, *args, **kwargs)

    monkeypatch.setattr(DiffusionPolicy, "forward", forward)

    class PutsBackRandomState:
        def __init__(self) -> None:
            self.calls: list[int] = []

        @hookimpl
        def first_batch_ready(self, start_step):
            self.calls.append(start_step)
            torch.manual_seed(1234)

    plugin = PutsBackRandomState()
    extra_entry_points("rng", plugin)
    assert _train(bimodal_root, tmp_path / "run", 2, monkeypatch, ["--save_checkpoint=false"]) == 0
    assert plugin.calls == [0]  # once, before the first update
    torch.manual_seed(1234)
    # The first update draws from exactly the state the hook set: nothing runs in between.
    assert torch.equal(seen[0], torch.random.get_rng_state())
    assert not torch.equal(seen[1], seen[0])


def test_request_stop_from_one_plugin_checkpoints_and_ends_the_run(
    bimodal_root, tmp_path, extra_entry_points, monkeypatch, capsys
):
    recorder = Recorder()

    class StopAtTwo:
        @hookimpl
        def request_stop(self, step):
            return "enough data seen" if step == 2 else None

    extra_entry_points("recorder", recorder)
    extra_entry_points("stop_at_two", StopAtTwo())
    assert _train(bimodal_root, tmp_path / "run", 5, monkeypatch, ["--save_freq=100"]) == 0
    names = recorder.names()
    assert names[-4:] == ["request_stop", "checkpoint_writing", "on_checkpoint_saved", "on_train_end"]
    assert [kw["step"] for name, kw in recorder.calls if name == "on_step_end"] == [1, 2]
    assert dict(recorder.calls)["on_train_end"]["step"] == 2 and "on_exception" not in names
    assert (tmp_path / "run" / "checkpoints" / "000002" / "pretrained_model" / "model.safetensors").is_file()

    # A non-str answer is a plugin error naming the plugin.
    class Sloppy:
        @hookimpl
        def request_stop(self):
            return True

    extra_entry_points("sloppy", Sloppy())
    assert _train(bimodal_root, tmp_path / "run2", 2, monkeypatch) == 2
    assert (
        "plugin 'sloppy' returned bool from request_stop; expected a str or None" in capsys.readouterr().err
    )


# --------------------------------------------------------------------------- plugins adding hooks


class LabSpecs:
    """Hooks a lab's plugin adds for its other plugins."""

    @hookspec
    def lab_gripper_limits(self, robot: str) -> tuple[float, float] | None:
        """The gripper's limits for ``robot``."""


def test_a_plugin_adds_a_hook_that_other_plugins_implement() -> None:
    from helpers import context_of

    from lerobot_ext.dispatch import plugins_from

    @hookimpl
    def register_hookspecs(register):
        register(LabSpecs)

    @hookimpl
    def lab_gripper_limits(robot):
        return (0.0, 0.08) if robot == "panda" else None

    # The implementing plugin is registered before the one adding the hook: fine, hook names are
    # checked once every plugin had its say.
    host = plugins_from(
        {
            "grippers": types.SimpleNamespace(lab_gripper_limits=lab_gripper_limits),
            "lab_core": types.SimpleNamespace(register_hookspecs=register_hookspecs),
        }
    )
    # A plugin calls it through the run context: every answer, with its plugin (collect).
    run = context_of(host)
    assert run.hooks.collect("lab_gripper_limits", robot="panda") == [("grippers", (0.0, 0.08))]
    assert run.hooks.collect("lab_gripper_limits", robot="ur5") == []
    # Without the plugin that adds it, implementing it is a load error naming the plugin - unless
    # the implementation is marked optional.
    with pytest.raises(PluginLoadError, match=r"plugin 'grippers'.*unknown hook 'lab_gripper_limits'"):
        plugins_from({"grippers": types.SimpleNamespace(lab_gripper_limits=lab_gripper_limits)})
    optional = hookimpl(optionalhook=True)(lambda robot: None)
    plugins_from({"grippers": types.SimpleNamespace(lab_gripper_limits=optional)})


def test_the_profiler_asks_other_plugins_for_advice_through_its_own_hook(extra_entry_points) -> None:
    from lerobot_ext.dispatch import load_plugins
    from lerobot_ext.profiling.advice import RunSettings, Verdict
    from lerobot_ext.profiling.plugin import plugin_advice

    @hookimpl(optionalhook=True)
    def profile_advice(verdict, settings):
        return [f"lab: {verdict} with {settings['num_workers']} workers"]

    from lerobot_ext.dispatch import hooks_of

    extra_entry_points("lab", types.SimpleNamespace(profile_advice=profile_advice))
    hooks = hooks_of(load_plugins(environ={}))
    settings = RunSettings(4, 2, False, 64, "pyav", 3, 2, "cuda", 1, 16, "flow", False)
    cfg = types.SimpleNamespace(camera_keys=[], data_cache=None)
    tips = plugin_advice(hooks, cfg, Verdict("HIGHLY", 40.0), settings)
    assert tips[0] == "lab: HIGHLY with 4 workers"  # registered last: asked first
    assert any(tip.startswith("--camera_keys=[...]") for tip in tips)  # the cameras plugin's
    assert any(tip.startswith("--data_cache=") for tip in tips)  # the data_cache plugin's


def test_the_profile_report_carries_what_other_plugins_note(
    bimodal_root, tmp_path, extra_entry_points, monkeypatch
) -> None:
    """profile_notes: each plugin's lines, read from what it kept in run.stash, go into the
    printed report and summary.json's notes, before the verdict."""

    class Lab:
        @hookimpl
        def on_step_end(self, step, run):
            run.stash["lab.steps"] = step

        @hookimpl(optionalhook=True)
        def profile_notes(self, cfg, run):
            return [f"lab: saw {run.stash['lab.steps']} steps of batch {cfg.batch_size}"]

    extra_entry_points("lab", Lab())
    out = tmp_path / "run"
    assert _train(bimodal_root, out, 3, monkeypatch, ["--profile", "--profile.warmup_steps=1"]) == 0
    summary = json.loads((out / "profile" / "summary.json").read_text())
    assert "lab: saw 3 steps of batch 4" in summary["notes"]
    report = (out / "profile" / "report.txt").read_text().splitlines()
    assert report.index("lab: saw 3 steps of batch 4") < next(
        i for i, line in enumerate(report) if line.startswith("verdict:")
    )


def test_around_evaluation_contexts_wrap_each_in_training_evaluation(
    bimodal_root, tmp_path, extra_entry_points, monkeypatch
):
    import contextlib

    from lerobot.scripts import lerobot_train

    events: list[tuple] = []

    def evaluate(*, policy, **kwargs):
        events.append(("eval", type(policy).__name__))
        if len([e for e in events if e[0] == "eval"]) == 2:
            raise RuntimeError("simulator crashed")
        return {"overall": {"pc_success": 0.0, "avg_sum_reward": 0.0, "eval_s": 0.0}}

    def plugin(name):
        class Wraps:
            @hookimpl
            def around_evaluation(self, cfg, policy, step, rank):
                @contextlib.contextmanager
                def around():
                    events.append((f"enter {name}", step, rank, type(policy).__name__))
                    try:
                        yield
                    finally:
                        events.append((f"exit {name}", step))

                return around()

        return Wraps()

    extra_entry_points("a_inner", plugin("a"))
    extra_entry_points("b_outer", plugin("b"))  # registered last: asked first, so the outer context
    monkeypatch.setattr(lerobot_train, "eval_policy_all", evaluate)
    monkeypatch.setattr(lerobot_train, "_make_eval_envs", lambda cfg: contextlib.nullcontext({}))
    env = ["--env.type=so101_pickplace", "--env_eval_freq=2", "--eval.n_episodes=1", "--eval.batch_size=1"]
    with pytest.raises(RuntimeError, match="simulator crashed"):
        _train(bimodal_root, tmp_path / "run", 4, monkeypatch, env)
    assert events == [
        ("enter b", 2, 0, "DiffusionPolicy"),
        ("enter a", 2, 0, "DiffusionPolicy"),
        ("eval", "DiffusionPolicy"),
        ("exit a", 2),
        ("exit b", 2),
        ("enter b", 4, 0, "DiffusionPolicy"),
        ("enter a", 4, 0, "DiffusionPolicy"),
        ("eval", "DiffusionPolicy"),
        ("exit a", 4),  # a failed evaluation still exits every context
        ("exit b", 4),
    ]

    class Swallows:
        @hookimpl
        def around_evaluation(self):
            return contextlib.suppress(RuntimeError)

    extra_entry_points("swallows", Swallows())
    events.clear()  # the second evaluation fails again, and nothing may hide it
    errors: list[str] = []
    collect = logging.Handler(logging.ERROR)
    collect.emit = lambda record: errors.append(record.getMessage())
    logging.getLogger("lerobot_ext").addHandler(collect)
    try:
        assert _train(bimodal_root, tmp_path / "run1", 4, monkeypatch, env) == 2
    finally:
        logging.getLogger("lerobot_ext").removeHandler(collect)
    assert (
        len(errors) == 1
        and "swallowed the evaluation's error (RuntimeError('simulator crashed'))" in errors[0]
    )

    class Sloppy:
        @hookimpl
        def around_evaluation(self):
            return "not a context"

    extra_entry_points("sloppy", Sloppy())
    errors.clear()
    logging.getLogger("lerobot_ext").addHandler(collect)
    try:
        assert _train(bimodal_root, tmp_path / "run2", 2, monkeypatch, env) == 2
    finally:
        logging.getLogger("lerobot_ext").removeHandler(collect)
    assert len(errors) == 1 and (
        "plugin 'sloppy' returned 'not a context' from around_evaluation; expected a context manager"
        in errors[0]
    ), errors


def test_checkpoint_writing_adds_files_to_the_atomic_checkpoint(
    bimodal_root, tmp_path, extra_entry_points, monkeypatch
):
    seen: list[tuple] = []

    class Adds:
        @hookimpl
        def checkpoint_writing(self, step, checkpoint_dir):
            final = checkpoint_dir.with_name(f"{step:06d}")
            seen.append((checkpoint_dir.name, final.exists(), (final.parent / "last").exists()))
            (checkpoint_dir / "calibration.json").write_text(f'{{"step": {step}}}')
            if step == 4:
                raise RuntimeError("disk full while adding a file")

    extra_entry_points("adds", Adds())
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="disk full"):
        _train(bimodal_root, out, 4, monkeypatch)
    # Written into <step>.partial/ before it was committed, and committed with it.
    assert seen == [("000002.partial", False, False), ("000004.partial", False, True)]
    checkpoints = out / "checkpoints"
    assert (checkpoints / "000002" / "calibration.json").read_text() == '{"step": 2}'
    # A failure while adding leaves no checkpoint of that step that looks complete.
    assert not (checkpoints / "000004").exists()
    assert (checkpoints / "last").resolve().name == "000002"


# --------------------------------------------------------------------------- the meta-test

# Each hook, and the test of its documented behaviour (not only that it fires).
BEHAVIOUR_TESTS = {
    "register_hookspecs": "test_hooks.py::test_a_plugin_adds_a_hook_that_other_plugins_implement",
    "register_policies": "test_plugins.py::test_registered_policy_becomes_a_policy_type",
    "register_robot_adapters": "test_plugins.py::test_good_plugin_is_loaded_and_its_registrations_traced",
    "register_config_fields": "test_config_fields.py::test_a_plugin_field_is_a_flag_of_the_assembled_config",
    "register_commands": "test_commands.py::test_a_plugin_command_runs_with_its_arguments",
    "register_upstream_names": "test_upstream_names.py::test_a_plugin_registers_the_names_it_relies_on_and_doctor_names_the_plugin",
    "configure": "test_dataset_hooks.py::test_configure_may_replace_the_config_but_only_with_one_of_its_class",
    "configure_policy": "test_dataset_hooks.py::test_configure_policy_proposals_are_checked_merged_and_conflicts_named",
    "step_phase_timing": "test_hooks.py::test_without_timing_requests_no_phases_are_measured",
    "select_robot_adapter": "test_dataset_hooks.py::test_select_robot_adapter_first_answer_wins_and_is_validated",
    "transform_dataset": "test_dataset_hooks.py::test_transform_dataset_is_chained_and_its_steps_collected",
    "check_checkpoint": "test_dataset_hooks.py::test_check_checkpoint_sees_a_local_checkpoints_saved_steps",
    "doctor_report": "test_hub_needs.py::test_lerobot_ext_doctor_reports_the_vla_policies",
    "checkpoint_loading": "test_self_contained.py::test_checkpoint_loading_changes_what_a_fine_tuned_run_loads",
    "wrap_dataset": "test_dataset_hooks.py::test_wrap_dataset_is_chained_and_told_the_role",
    "more_datasets": "test_dataset_hooks.py::test_more_datasets_are_planned_one_by_one_and_combined_by_a_plugin",
    "combine_datasets": "test_dataset_hooks.py::test_more_datasets_are_planned_one_by_one_and_combined_by_a_plugin",
    "compare_datasets": "test_dataset_hooks.py::test_inspect_of_several_datasets_prints_what_compare_datasets_says",
    "make_sampler": "test_dataset_hooks.py::test_make_sampler_replaces_upstreams_sampler_and_is_resumed_by_position",
    "env_policy_features": "test_dataset_hooks.py::test_env_policy_features_first_answer_wins_and_is_validated",
    "policy_made": "test_long_runs.py::test_a_disk_without_room_for_one_checkpoint_is_refused_before_training",
    "processors_made": "test_hooks.py::test_processors_made_gets_the_pipelines_with_the_plugins_steps",
    "first_batch_ready": "test_hooks.py::test_first_batch_ready_may_set_the_random_state_the_first_update_draws_from",
    "optimizer_ready": "test_validation.py::test_optimizer_ready_gets_the_resumed_state_and_may_change_the_rate",
    "datasets_ready": "test_validation.py::test_every_checkpoint_carries_its_held_out_error_and_best_points_at_the_lowest",
    "request_stop": "test_hooks.py::test_request_stop_from_one_plugin_checkpoints_and_ends_the_run",
    "around_evaluation": "test_hooks.py::test_around_evaluation_contexts_wrap_each_in_training_evaluation",
    "checkpoint_writing": "test_hooks.py::test_checkpoint_writing_adds_files_to_the_atomic_checkpoint",
    "before_first_batch": "test_long_runs.py::test_an_interrupted_run_resumed_in_a_later_epoch_ends_with_the_same_weights",
    "on_train_start": "test_hooks.py::test_every_hook_fires_in_order_with_documented_arguments",
    "on_step_end": "test_hooks.py::test_every_hook_fires_in_order_with_documented_arguments",
    "on_phase_start": "test_profile_memory.py::test_the_core_starts_each_phase_in_step_order",
    "on_step_phases": "test_profile.py::test_phases_add_up_to_the_step_and_match_upstreams_own_timers",
    "on_checkpoint_saved": "test_hooks.py::test_every_hook_fires_in_order_with_documented_arguments",
    "on_train_end": "test_distributed.py::test_two_process_torchrun_fires_lifecycle_hooks_on_both_ranks",
    "on_exception": "test_hooks.py::test_on_exception_fires_with_the_exception",
    # Hooks built-in plugins add with register_hookspecs.
    "profile_advice": "test_hooks.py::test_the_profiler_asks_other_plugins_for_advice_through_its_own_hook",
    "profile_notes": "test_hooks.py::test_the_profile_report_carries_what_other_plugins_note",
    "register_demo_layouts": "test_commands.py::test_a_plugin_adds_a_demo_layout_through_the_demo_plugins_hook",
}


def test_the_meta_test_covers_the_hooks_plugins_add() -> None:
    # Every hook a loaded built-in plugin adds is checked below, like lerobot_ext.hookspecs' own.
    assert {"profile_advice", "profile_notes", "register_demo_layouts"} <= set(EVERY_HOOK) - set(HOOK_NAMES)


@pytest.mark.parametrize("hook", EVERY_HOOK)
def test_every_hook_has_a_test_of_its_documented_behaviour(hook) -> None:
    assert hook in BEHAVIOUR_TESTS, f"no behaviour test is named for hook {hook}"
    module, function = BEHAVIOUR_TESTS[hook].split("::")
    tree = ast.parse((Path(__file__).parent / module).read_text())
    found = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == function), None)
    assert found is not None, f"{BEHAVIOUR_TESTS[hook]} does not exist"
    # The test exercises the hook by name - it implements it, calls it or checks its calls -
    # itself or through a helper of its module (a plugin factory, a recording plugin class).
    helpers = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
    used = {n.id for n in ast.walk(found) if isinstance(n, ast.Name) and n.id in helpers}
    sources = [ast.unparse(found), *(ast.unparse(helpers[name]) for name in used)]
    assert any(hook in source for source in sources), f"{BEHAVIOUR_TESTS[hook]} never names {hook}"
