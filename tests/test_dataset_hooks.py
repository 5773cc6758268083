"""The transforming hooks' documented behaviour, one by one: who wins, what is chained, what is
validated - with small plugins written as a third party would."""

from __future__ import annotations

import copy
import dataclasses
import json
import types

import pytest
from helpers import context_of, training_run
from lerobot.processor import ProcessorStep

from lerobot_ext import hookimpl
from lerobot_ext.config import ExtTrainPipelineConfig
from lerobot_ext.dataset_changes import AppliedChanges, DatasetChange, SavedCheckpoint
from lerobot_ext.dispatch import hooks_of, plugins_from
from lerobot_ext.errors import ConfigError, PluginConflictError, PluginHookError
from lerobot_ext.evaluation import EvaluationRun
from lerobot_ext.layout import DatasetDescription
from lerobot_ext.pipeline_steps import install_steps
from lerobot_ext.robot_adapter import AdapterChoice, RobotAdapter
from lerobot_ext.training import configured, planned_changes


def choose_adapter(host, cfg, dataset):
    """The adapter a run's hooks choose (select_robot_adapter), and why."""
    applied = planned_changes(hooks_of(host), cfg, context_of(host), dataset)
    return types.SimpleNamespace(adapter=applied.adapter, reason=applied.adapter_reason)


def apply_changes(host, cfg, dataset):
    return planned_changes(hooks_of(host), cfg, context_of(host), dataset)


def wrap_dataset(host, dataset, role, applied):
    wrapped, _ = hooks_of(host).chain(
        "wrap_dataset", cfg=None, dataset=dataset, role=role, planned=applied, run=context_of(host)
    )
    return wrapped


def check_checkpoint(host, path, applied):
    checkpoint = SavedCheckpoint.read(path)
    if checkpoint is not None:
        hooks_of(host).notify(
            "check_checkpoint", cfg=None, checkpoint=checkpoint, planned=applied, run=context_of(host)
        )


def apply_configure_hooks(cfg, host):
    return configured(hooks_of(host), cfg, context_of(host))


DATASET = DatasetDescription(
    "my_arm",
    10,
    {"observation.state": {"dtype": "float32", "shape": (4,)}, "action": {"dtype": "float32", "shape": (2,)}},
    {"observation.state": {"mean": [0.0] * 4}, "action": {"mean": [0.0, 0.0]}},
)


def plugin(order: int = 0, **hooks):
    """A plugin of the given hook functions; ``order`` places its transform_dataset."""
    return types.SimpleNamespace(
        **{
            name: hookimpl(order=order)(fn) if name == "transform_dataset" else hookimpl(fn)
            for name, fn in hooks.items()
        }
    )


class Arm(RobotAdapter):
    def __init__(self, name: str) -> None:
        self.name = name


def test_select_robot_adapter_first_answer_wins_and_is_validated() -> None:
    asked = []

    def choose(name):
        def select_robot_adapter(adapters):
            asked.append(name)
            return AdapterChoice(adapters[name], f"{name} knows it") if name in adapters else None

        return select_robot_adapter

    def register(register):
        register(Arm("lab_arm"))

    host = plugins_from(
        {
            "lab": plugin(register_robot_adapters=register, select_robot_adapter=choose("lab_arm")),
            "shy": plugin(select_robot_adapter=choose("nothing")),
        }
    )
    found = choose_adapter(host, None, DATASET)
    assert (found.adapter.name, found.reason) == ("lab_arm", "lab_arm knows it")
    assert asked == ["nothing", "lab_arm"]  # last registered first; the first answer ends it
    bad = plugins_from({"sloppy": plugin(select_robot_adapter=lambda: "my_arm")})
    with pytest.raises(PluginHookError, match=r"plugin 'sloppy' returned str from select_robot_adapter"):
        choose_adapter(bad, None, DATASET)


class ScaleStep(ProcessorStep):
    def __init__(self, factor: float = 1.0) -> None:
        self.factor = factor

    def __call__(self, transition):
        return transition

    def get_config(self):
        return {"factor": self.factor}

    def transform_features(self, features):
        return features


def narrow_action(width: int, name: str):
    def transform_dataset(dataset):
        features = json.loads(json.dumps(dataset.features))
        features["action"]["shape"] = (width,)
        return DatasetChange(features, dataset.stats, [ScaleStep(width)], [], f"{name}: action -> {width}")

    return transform_dataset


def test_transform_dataset_is_chained_and_its_steps_collected() -> None:
    seen = []

    def observe(dataset):
        seen.append(dataset.width("action"))

    host = plugins_from(
        {
            # Registered in the reverse of their declared order: the order wins.
            "observer": plugin(order=30, transform_dataset=observe),
            "first": plugin(order=10, transform_dataset=narrow_action(2, "first")),
            "second": plugin(order=20, transform_dataset=narrow_action(1, "second")),
        }
    )
    applied = apply_changes(host, None, DATASET)
    assert seen == [1]  # it saw the dataset as the two changes left it
    assert [plugin for plugin, _ in applied.changes] == ["first", "second"]
    assert applied.dataset.width("action") == 1 and applied.original is DATASET
    assert [step.factor for step in applied.preprocessor_steps] == [2, 1]
    assert applied.summaries == ["first: action -> 2", "second: action -> 1"]


def test_transform_dataset_results_are_validated() -> None:
    wrong = plugins_from({"sloppy": plugin(transform_dataset=lambda dataset: dataset.features)})
    with pytest.raises(PluginHookError, match=r"plugin 'sloppy' returned dict from transform_dataset"):
        apply_changes(wrong, None, DATASET)

    def not_a_step(dataset):
        return DatasetChange(dataset.features, dataset.stats, [lambda t: t])

    odd = plugins_from({"odd": plugin(transform_dataset=not_a_step)})
    with pytest.raises(
        PluginHookError, match=r"plugin 'odd' returned step .* which is not a lerobot.processor.ProcessorStep"
    ):
        apply_changes(odd, None, DATASET)


def test_install_steps_puts_them_first_and_last_and_not_twice_from_a_checkpoint() -> None:
    applied = AppliedChanges(
        DATASET, DATASET, changes=[("lab", DatasetChange({}, {}, [ScaleStep(2)], [ScaleStep(3)]))]
    )
    pre, post = types.SimpleNamespace(steps=["normalize"]), types.SimpleNamespace(steps=["unnormalize"])
    install_steps(pre, post, applied, None)
    assert [type(s).__name__ if not isinstance(s, str) else s for s in pre.steps] == [
        "ScaleStep",
        "normalize",
    ]
    assert [type(s).__name__ if not isinstance(s, str) else s for s in post.steps] == [
        "unnormalize",
        "ScaleStep",
    ]
    # A pipeline loaded from a checkpoint already has its steps: not added twice ...
    loaded = types.SimpleNamespace(steps=[ScaleStep(2), "normalize"])
    install_steps(loaded, types.SimpleNamespace(steps=[ScaleStep(3)]), applied, "/ckpt")
    assert len(loaded.steps) == 2
    # ... and a different config is refused.
    with pytest.raises(
        ConfigError,
        match=r"the checkpoint at /ckpt has ScaleStep\(factor=5\), but this run asks for ScaleStep\(factor=2\)",
    ):
        install_steps(
            types.SimpleNamespace(steps=[ScaleStep(5)]), types.SimpleNamespace(steps=[]), applied, "/ckpt"
        )


def test_wrap_dataset_is_chained_and_told_the_role() -> None:
    calls = []

    def outer(dataset, role):
        calls.append(("outer", dataset, role))
        return ["outer", dataset]

    def inner(dataset, role):
        calls.append(("inner", dataset, role))
        return None if role == "eval" else ["inner", dataset]

    host = plugins_from({"outer": plugin(wrap_dataset=outer), "inner": plugin(wrap_dataset=inner)})
    applied = AppliedChanges(DATASET, DATASET)
    assert wrap_dataset(host, "data", "train", applied) == ["outer", ["inner", "data"]]
    assert wrap_dataset(host, "data", "eval", applied) == ["outer", "data"]  # None: unchanged
    assert [(name, role) for name, _, role in calls] == [
        ("inner", "train"),
        ("outer", "train"),
        ("inner", "eval"),
        ("outer", "eval"),
    ]


def test_check_checkpoint_sees_a_local_checkpoints_saved_steps(tmp_path) -> None:
    seen = []

    def refuse(checkpoint, planned):
        seen.append([s.class_path for s in checkpoint.steps])
        if any(s.class_name == "ScaleStep" for s in checkpoint.steps):
            raise ConfigError("trained with ScaleStep; pass --scale")

    (tmp_path / "config.json").write_text(json.dumps({"type": "act"}))
    for name in ("policy_preprocessor", "policy_postprocessor"):
        steps = (
            [{"class": "lab.steps.ScaleStep", "config": {"factor": 2}}]
            if name.endswith("preprocessor")
            else []
        )
        (tmp_path / f"{name}.json").write_text(json.dumps({"steps": steps}))
    host = plugins_from({"lab": plugin(check_checkpoint=refuse)})
    applied = AppliedChanges(DATASET, DATASET)
    with pytest.raises(ConfigError, match="trained with ScaleStep"):
        check_checkpoint(host, tmp_path, applied)
    check_checkpoint(host, "lerobot/pi0_base", applied)  # a Hub id: nothing local to check
    assert seen == [["lab.steps.ScaleStep"]]
    assert SavedCheckpoint.read(tmp_path).config == {"type": "act"}


def test_env_policy_features_first_answer_wins_and_is_validated() -> None:
    host = plugins_from(
        {
            "fallback": plugin(env_policy_features=lambda env_features: {"fallback": 1}),
            "specific": plugin(env_policy_features=lambda env_features: {**env_features, "action": 7}),
        }
    )
    run = EvaluationRun(context_of(host, "eval"), hooks_of(host))
    assert run.env_policy_features(None, {"action": 12}, None) == {"action": 7}
    sloppy = plugins_from({"sloppy": plugin(env_policy_features=lambda: [1, 2])})
    bad = EvaluationRun(context_of(sloppy, "eval"), hooks_of(sloppy))
    with pytest.raises(PluginHookError, match=r"plugin 'sloppy' returned list from env_policy_features"):
        bad.env_policy_features(None, {}, None)


def test_configure_may_replace_the_config_but_only_with_one_of_its_class() -> None:
    cfg = ExtTrainPipelineConfig.__new__(ExtTrainPipelineConfig)
    other = ExtTrainPipelineConfig.__new__(ExtTrainPipelineConfig)
    host = plugins_from({"swap": plugin(configure=lambda cfg: other)})
    assert apply_configure_hooks(cfg, host) is other
    wrong = plugins_from({"sloppy": plugin(configure=lambda cfg: {"batch_size": 8})})
    with pytest.raises(PluginHookError, match=r"plugin 'sloppy' returned dict from configure"):
        apply_configure_hooks(cfg, wrong)


def two_configure_plugins(seen: list) -> dict:
    """``resumes`` (tryfirst) replaces the config; ``checks`` records the config it is given."""

    def replace(cfg):
        replacement = copy.copy(cfg)
        replacement.batch_size = cfg.batch_size * 2
        return replacement

    def check(cfg):
        seen.append(cfg)

    return {
        "checks": plugin(configure=check),
        "resumes": types.SimpleNamespace(configure=hookimpl(tryfirst=True)(replace)),
    }


# A run (training.py) and lerobot-ext inspect chain configure through this one function.
def test_configure_is_chained_the_second_plugin_sees_the_first_ones_config() -> None:
    chain = apply_configure_hooks
    seen: list = []
    host = plugins_from(two_configure_plugins(seen))
    cfg = ExtTrainPipelineConfig.__new__(ExtTrainPipelineConfig)
    cfg.batch_size = 4
    result = chain(cfg, host)
    assert result is not cfg and result.batch_size == 8
    assert seen == [result]  # `checks` ran after `resumes` (tryfirst), on the config it returned


def test_inspect_chains_configure_exactly_as_a_run_does(bimodal_root, extra_entry_points) -> None:
    from lerobot_ext.dispatch import load_plugins
    from lerobot_ext.inspect_dataset import inspect_config

    seen: list = []
    for name, implementation in two_configure_plugins(seen).items():
        extra_entry_points(name, implementation)
    host = load_plugins(environ={})
    cfg = inspect_config(hooks_of(host), context_of(host, "inspect"), bimodal_root)
    assert cfg.batch_size == 2 * ExtTrainPipelineConfig.batch_size
    assert seen == [cfg]


def test_configure_policy_proposals_are_checked_merged_and_conflicts_named() -> None:
    policy = types.SimpleNamespace(max_state_dim=32, chunk_size=50)
    agree = plugins_from(
        {
            "a": plugin(configure_policy=lambda policy_cfg: {"max_state_dim": 45}),
            "b": plugin(configure_policy=lambda policy_cfg: {"max_state_dim": 45, "chunk_size": 10}),
        }
    )
    training_run(agree).configure_policy(policy, None)
    assert (policy.max_state_dim, policy.chunk_size) == (45, 10)
    clash = plugins_from(
        {
            "a": plugin(configure_policy=lambda: {"chunk_size": 8}),
            "b": plugin(configure_policy=lambda: {"chunk_size": 16}),
        }
    )
    with pytest.raises(
        PluginConflictError,
        match=r"plugins 'b' and 'a' set policy.chunk_size to different values \(16 vs 8\)",
    ):
        training_run(clash).configure_policy(policy, None)
    unknown = plugins_from({"typo": plugin(configure_policy=lambda: {"chunk_sise": 8})})
    with pytest.raises(
        PluginHookError, match=r"plugin 'typo' set policy.chunk_sise, but SimpleNamespace has no such field"
    ):
        training_run(unknown).configure_policy(policy, None)


def test_step_phase_timing_answers_are_validated() -> None:
    host = plugins_from({"sloppy": plugin(step_phase_timing=lambda: "yes")})
    with pytest.raises(
        PluginHookError, match=r"plugin 'sloppy' returned str from step_phase_timing; expected a bool or None"
    ):
        training_run(host)


def _train_in_process(monkeypatch, args: list[str]) -> int:
    import sys

    from lerobot_ext.cli.train import main

    monkeypatch.setattr(sys, "argv", ["lerobot-train-ext"])
    return main(args)


def _tiny_run(root, out, steps: int, *extra: str) -> list[str]:
    from helpers import TINY_FLOW, dataset_flags

    return [
        *dataset_flags(root),
        *TINY_FLOW,
        f"--steps={steps}",
        "--save_freq=2",
        f"--output_dir={out}",
        *extra,
    ]


def test_more_datasets_are_planned_one_by_one_and_combined_by_a_plugin(
    bimodal_root, tmp_path, extra_entry_points, monkeypatch
) -> None:
    """more_datasets adds a dataset: select_robot_adapter, transform_dataset and wrap_dataset run for
    each (numbered, labelled, every stored dataset known to transform_dataset); combine_datasets
    gets both with their own planned changes, and its answer is what upstream trains on."""
    from lerobot.datasets.factory import make_train_eval_datasets

    from lerobot_ext import CombinedDatasets, DatasetSource
    from lerobot_ext.demo import write_demo_dataset

    second = write_demo_dataset("bimodal", tmp_path / "second", episodes=2, frames=15, seed=3)
    seen: dict[str, list] = {"transform": [], "wrap": [], "combine": [], "ready": []}

    class Lab:
        @hookimpl
        def more_datasets(self, cfg):
            # Loaded as upstream loads the run's own (its delta timestamps, video backend...).
            one = copy.copy(cfg)
            one.dataset = dataclasses.replace(cfg.dataset, repo_id="local/second", root=str(second))
            train, _ = make_train_eval_datasets(one)
            return [DatasetSource("the second", train)]

        @hookimpl(order=95)
        def transform_dataset(self, dataset, run_datasets):
            seen["transform"].append((dataset.root, [(d.description.root, d.adapter) for d in run_datasets]))

        @hookimpl
        def wrap_dataset(self, dataset, role, source):
            seen["wrap"].append((source.index, source.label, role, len(dataset)))

        @hookimpl
        def combine_datasets(self, parts):
            seen["combine"].append([(p.source.index, p.label, p.planned.original.root) for p in parts])
            stats = copy.deepcopy(parts[0].planned.dataset.stats)
            stats["action"]["mean"] = stats["action"]["mean"] * 0 + 7.0  # a marker the policy is built from
            planned = dataclasses.replace(
                parts[0].planned, dataset=dataclasses.replace(parts[0].planned.dataset, stats=stats)
            )
            return CombinedDatasets(parts[1].source.train, None, planned)

        @hookimpl
        def datasets_ready(self, dataset, eval_dataset):
            seen["ready"].append((len(dataset), float(dataset.meta.stats["action"]["mean"][0]), eval_dataset))

    extra_entry_points("lab", Lab())
    assert _train_in_process(monkeypatch, _tiny_run(bimodal_root, tmp_path / "run", 2)) == 0
    roots = [bimodal_root, second]
    assert seen["transform"] == [(root, [(r, None) for r in roots]) for root in roots]  # bimodal: no adapter
    assert seen["wrap"] == [(0, str(bimodal_root), "train", 80), (1, "the second", "train", 30)]
    assert seen["combine"] == [[(0, str(bimodal_root), bimodal_root), (1, "the second", second)]]
    assert seen["ready"] == [(30, 7.0, None)]  # the combined dataset, with the combined statistics


def test_make_sampler_replaces_upstreams_sampler_and_is_resumed_by_position(
    bimodal_root, tmp_path, extra_entry_points, monkeypatch
) -> None:
    """make_sampler gets upstream's EpisodeAwareSampler arguments; the sampler it returns is the one
    the dataloader draws from, and a resumed run positions it with upstream's own
    load_state_dict({"epoch", "start_index"}) from the step alone."""
    drawn: list[int] = []
    states: list[dict] = []
    arguments_seen: list[dict] = []

    class Backwards:
        """Every frame, last first: the order a pure function of the epoch (no shuffle)."""

        def __init__(self, frames: int) -> None:
            self.frames, self.epoch, self.start = frames, 0, 0

        def __len__(self) -> int:
            return self.frames

        def load_state_dict(self, state: dict) -> None:
            states.append(dict(state))
            self.epoch, self.start = state["epoch"], state["start_index"]

        def state_dict(self) -> dict:
            return {"epoch": self.epoch, "start_index": self.start}

        def __iter__(self):
            start, self.epoch, self.start = self.start, self.epoch + 1, 0
            for position in range(self.frames - 1 - start, -1, -1):
                drawn.append(position)
                yield position

    class Lab:
        @hookimpl
        def make_sampler(self, dataset, arguments):
            arguments_seen.append(arguments)
            return Backwards(len(dataset))

    extra_entry_points("lab", Lab())
    out = tmp_path / "run"
    assert _train_in_process(monkeypatch, _tiny_run(bimodal_root, out, 2)) == 0
    assert {"dataset_from_indices", "dataset_to_indices", "drop_n_last_frames", "seed"} <= set(
        arguments_seen[0]
    )
    assert drawn[:8] == list(range(79, 71, -1))  # two batches of 4, in the plugin's order
    drawn.clear()
    config = out / "checkpoints" / "000002" / "pretrained_model" / "train_config.json"
    resumed = ["--resume=true", f"--config_path={config}", "--steps=4"]
    assert _train_in_process(monkeypatch, resumed) == 0
    assert states == [{"epoch": 0, "start_index": 8}]  # after 2 steps of batch 4
    assert drawn[:8] == list(range(71, 63, -1))


def test_inspect_of_several_datasets_prints_what_compare_datasets_says(
    bimodal_root, tmp_path, extra_entry_points, capsys
) -> None:
    """lerobot-ext inspect A B: compare_datasets gets both datasets' planned changes (A first) and
    its lines are printed after the reports, with the built-in dataset_mix plugin's verdict."""
    from lerobot_ext.cli.tool import main
    from lerobot_ext.demo import write_demo_dataset

    second = write_demo_dataset("bimodal", tmp_path / "second", episodes=2, frames=15, seed=3)

    class Lab:
        @hookimpl
        def compare_datasets(self, parts):
            return [
                f"lab: {len(parts)} datasets, first {parts[0].label}, state {parts[1].planned.dataset.width('observation.state')}-D"
            ]

    extra_entry_points("lab", Lab())
    assert main(["inspect", str(bimodal_root), str(second), "--summary"]) in (0, None)
    out = capsys.readouterr().out
    assert f"lab: 2 datasets, first {bimodal_root}, state 2-D" in out
    assert f"mixable: {second} gives the policy what {bimodal_root} gives it" in out
