"""Robot adapters: RoboCasa action order, GR2 layouts, modality.json datasets, VLA dim caps."""

from __future__ import annotations

import json
import logging
import shutil
import types

import pytest
from helpers import training_run

from lerobot_ext.adapters.gr2 import ACTION_35, FourierGR2Adapter, state_names
from lerobot_ext.adapters.modality import ModalityJsonAdapter
from lerobot_ext.adapters.robocasa import ACTION_BASE_FIRST, RobocasaAdapter, action_order
from lerobot_ext.adapters.selection import select_adapter
from lerobot_ext.demo import write_demo_dataset
from lerobot_ext.dispatch import hooks_of, load_plugins, plugins_from
from lerobot_ext.errors import ConfigError
from lerobot_ext.inspect_dataset import inspect_with_flags, load_description
from lerobot_ext.layout import DatasetDescription
from lerobot_ext.vla_caps.caps import raised_caps
from lerobot_ext.vla_caps.plugin import configure_policy


@pytest.fixture(scope="module")
def base_first_root(tmp_path_factory):
    return write_demo_dataset(
        "robocasa",
        tmp_path_factory.mktemp("data") / "base_first",
        episodes=2,
        frames=10,
        action_order="base-first",
    )


def test_robocasa_tells_ee_first_from_base_first_by_the_constant_dims(robocasa_root, base_first_root):
    adapter = RobocasaAdapter()
    ee = load_description(robocasa_root)[0]
    base = load_description(base_first_root)[0]
    assert action_order(ee) == "ee-first" and action_order(base) == "base-first"
    assert [g.name for g in adapter.action_groups(ee)][:3] == [
        "end_effector_position",
        "end_effector_rotation",
        "gripper_close",
    ]
    assert [g.name for g in adapter.action_groups(base)][:2] == ["base_motion", "control_mode"]
    assert any(note.startswith("action order: EE-first") for note in adapter.notes(ee))
    base_note = next(note for note in adapter.notes(base) if note.startswith("action order"))
    assert "base-first" in base_note and "cannot drop them" in base_note


def test_base_first_data_refuses_action_keep_dims_7(base_first_root):
    from lerobot_ext.transforms.action_keep import ActionKeepTransform
    from lerobot_ext.transforms.base import TransformContext

    dataset = load_description(base_first_root)[0]
    cfg = types.SimpleNamespace(state_filtered_keys=[], action_keep_dims=7, force_action_keep_dims=False)
    with pytest.raises(ConfigError, match=r"dim 7 \(end_effector_position_2\)"):
        ActionKeepTransform().apply(TransformContext(cfg, dataset, RobocasaAdapter()))


@pytest.fixture
def mislabelled_root(robocasa_root, tmp_path):
    """EE-first data under a base-first meta/modality.json, as several published RoboCasa datasets
    ship. The per-dim action names go too: they are consulted first, and such datasets often
    have none, so modality.json and the adapter are left to disagree."""
    root = tmp_path / "mislabelled"
    shutil.copytree(robocasa_root, root)
    modality_path = root / "meta" / "modality.json"
    modality = json.loads(modality_path.read_text())
    modality["action"] = {
        g.name: {"start": g.start, "end": g.stop, "original_key": "action"} for g in ACTION_BASE_FIRST
    }
    modality_path.write_text(json.dumps(modality))
    info_path = root / "meta" / "info.json"
    info = json.loads(info_path.read_text())
    info["features"]["action"]["names"] = None
    info_path.write_text(json.dumps(info))
    return root


def test_the_stats_action_order_beats_a_disagreeing_modality_json(mislabelled_root, robocasa_root):
    from lerobot_ext.transforms.action_keep import ActionKeepTransform
    from lerobot_ext.transforms.base import TransformContext

    dataset = load_description(mislabelled_root)[0]
    assert action_order(dataset) == "ee-first"
    cfg = types.SimpleNamespace(state_filtered_keys=[], action_keep_dims=6, force_action_keep_dims=False)
    with pytest.raises(ConfigError) as excinfo:
        ActionKeepTransform().apply(TransformContext(cfg, dataset, RobocasaAdapter()))
    assert "dim 6 (gripper_close) in [-1, 1]" in str(excinfo.value)

    host = load_plugins(environ={})
    report = inspect_with_flags(hooks_of(host), mislabelled_root, ["--action_keep_dims=7"])
    action = report.vectors[1]
    assert action.source == "robot adapter 'robocasa'"
    assert [action.dims[d]["group"] for d in (5, 6, 7, 11)] == [
        "end_effector_rotation",
        "gripper_close",
        "base_motion",
        "control_mode",
    ]
    assert not any(g["start"] == 0 and "base_motion" in g["names"] for g in action.groups)
    note = next(note for note in report.notes if "disagrees" in note)
    assert "meta/modality.json disagrees with the data" in note
    assert "base_motion [0:4] (data: [7:11])" in note and "the action order is EE-first" in note
    assert report.result["changed"]["action"] == {"shape": [7], "was": [12]}
    consistent = load_description(robocasa_root)[0]
    assert not any("disagrees" in note for note in RobocasaAdapter().notes(consistent))


def test_gr2_state_and_action_groups(gr2_root):
    adapter = FourierGR2Adapter()
    dataset = load_description(gr2_root)[0]
    state = {g.name: (g.start, g.stop) for g in adapter.state_groups(dataset)}
    assert state["left_arm"] == (0, 7) and state["waist_yaw"] == (16, 17) and state["imu_omega"] == (42, 45)
    assert sum(b - a for a, b in state.values()) == 45 == len(state_names())
    action = {g.name: (g.start, g.stop) for g in adapter.action_groups(dataset)}
    assert action["waist"] == (28, 31) and action["base_velocity"] == (31, 37)
    variant = DatasetDescription("fourier_gr2", 30, {"action": {"shape": (35,), "dtype": "float32"}}, {})
    assert adapter.action_groups(variant) == ACTION_35
    assert "35-D variant" in adapter.notes(variant)[0]


def test_adapter_is_chosen_by_robot_type_or_by_name(robocasa_root, gr2_root):
    adapters = load_plugins(environ={}).registry.robot_adapters
    by_type = select_adapter(adapters, load_description(gr2_root)[0], None)
    assert (by_type.adapter.name, by_type.reason) == ("fourier_gr2", "chosen for robot_type 'fourier_gr2'")
    by_name = select_adapter(adapters, load_description(robocasa_root)[0], "fourier_gr2")
    assert (by_name.adapter.name, by_name.reason) == ("fourier_gr2", "chosen with --robot_adapter")
    unknown = DatasetDescription("my_arm", 10, {}, {}, modality={"state": {"arm": {"start": 0, "end": 6}}})
    assert select_adapter(adapters, unknown, None).adapter.name == "modality_json"
    assert select_adapter(adapters, DatasetDescription("my_arm", 10, {}, {}), None) is None
    assert "state (1 groups)" in ModalityJsonAdapter().notes(unknown)[0]


def _policy(cls_path: str, **overrides):
    module, _, name = cls_path.rpartition(".")
    import importlib

    cfg = getattr(importlib.import_module(module), name)()
    for key, value in overrides.items():
        setattr(cfg, key, value)
    return cfg


@pytest.fixture(scope="module")
def gr2_features(gr2_root):
    """The features of the GR2 demo dataset, as the policy hook receives them."""
    return load_description(gr2_root)[0].features


@pytest.mark.parametrize(
    "config_class",
    [
        "lerobot.policies.smolvla.configuration_smolvla.SmolVLAConfig",
        "lerobot.policies.pi0.configuration_pi0.PI0Config",
        "lerobot.policies.pi05.configuration_pi05.PI05Config",
    ],
)
def test_gr2_widths_raise_a_vlas_caps(config_class, gr2_features):
    policy = _policy(config_class)
    assert (policy.max_state_dim, policy.max_action_dim) == (32, 32)
    assert raised_caps(policy, gr2_features) == {"max_state_dim": 45, "max_action_dim": 37}
    assert raised_caps(policy, {"observation.state": {"shape": (30,)}, "action": {"shape": (7,)}}) == {}


def test_caps_are_applied_through_the_hook_and_logged(caplog, gr2_features):
    policy = _policy("lerobot.policies.smolvla.configuration_smolvla.SmolVLAConfig")
    host = plugins_from({"vla_caps": types.SimpleNamespace(configure_policy=configure_policy)})
    run = training_run(host)
    logger = logging.getLogger("lerobot_ext")
    logger.propagate = True
    try:
        with caplog.at_level(logging.INFO, logger="lerobot_ext"):
            run.configure_policy(policy, types.SimpleNamespace(features=gr2_features))
    finally:
        logger.propagate = False
    assert (policy.max_state_dim, policy.max_action_dim) == (45, 37)
    # One line per raised cap, not two. (One log call is one record object; a handler left on
    # the logger by an earlier run in this process may show that same record twice.)
    records = list({id(r): r for r in caplog.records}.values())
    assert [r.getMessage() for r in records if "max_" in r.getMessage()] == [
        "vla_caps: policy.max_state_dim 32 -> 45",
        "vla_caps: policy.max_action_dim 32 -> 37",
    ]


def test_a_pretrained_vla_cap_cannot_be_raised(gr2_features):
    policy = _policy("lerobot.policies.pi0.configuration_pi0.PI0Config", pretrained_path="/models/pi0")
    with pytest.raises(ConfigError) as excinfo:
        raised_caps(policy, gr2_features)
    message = str(excinfo.value)
    assert (
        "observation.state is 45-D but the pretrained pi0 at /models/pi0 pads to max_state_dim=32" in message
    )
    assert "--state_filtered_keys" in message and "lerobot-ext inspect" in message


def test_inspect_explains_a_dataset(robocasa_root, capsys):
    # In this process: `lerobot-ext` itself starts in subprocesses in other tests.
    from lerobot_ext.cli import tool

    users = "[robot0_base_pos,robot0_base_quat,robot0_base_to_eef_pos,robot0_base_to_eef_quat,robot0_joint_vel,robot0_gripper_qvel]"
    assert (
        tool.main(["inspect", str(robocasa_root), f"--state_filtered_keys={users}", "--action_keep_dims=7"])
        == 0
    )
    out = capsys.readouterr().out
    assert "robot adapter: robocasa (chosen for robot_type 'PandaOmron')" in out
    assert "action order: EE-first" in out
    assert "[46:53] robot0_joint_vel = joint_velocity" in out
    assert "constant dims: [7, 8, 9, 10, 11]" in out
    assert "-> observation.state: 30-D (was 53-D)" in out and "-> action: 7-D (was 12-D)" in out
    assert "transforms: observation.state 53 -> 30 dims" in out
    row = next(line for line in out.splitlines() if line.strip().startswith("11 ") and "control_mode" in line)
    assert row.split()[-3:] == ["-1", "-1", "constant"]
    assert tool.main(["inspect", str(robocasa_root), "--json"]) == 0
    as_json = capsys.readouterr().out
    import json

    report = json.loads(as_json)
    assert report["adapter"] == "robocasa" and report["vectors"][1]["constant_dims"] == [7, 8, 9, 10, 11]
    assert report["changes"] == [] and report["result"] == {}  # no flag: nothing would change


def test_inspect_refuses_a_folder_that_is_not_a_dataset(tmp_path, capsys):
    from lerobot_ext.cli import tool

    assert tool.main(["inspect", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert "is not a LeRobot dataset (no meta/info.json)" in error and "Traceback" not in error
