"""``--state_filtered_keys`` / ``--action_keep_dims``: group resolution, checks, features and stats."""

from __future__ import annotations

import json
import types

import numpy as np
import pytest
import torch
from helpers import USERS_FILTER_KEYS as USERS_FILTER
from lerobot.configs import PipelineFeatureType, PolicyFeature
from lerobot.configs.types import FeatureType
from lerobot.processor import TransitionKey

from lerobot_ext.adapters.gr2 import FourierGR2Adapter
from lerobot_ext.adapters.robocasa import STATE_16, RobocasaAdapter
from lerobot_ext.dispatch import load_plugins
from lerobot_ext.errors import ConfigError, DatasetLayoutError
from lerobot_ext.inspect_dataset import load_description
from lerobot_ext.layout import ROBOSUITE_TO_GR00T, DatasetDescription
from lerobot_ext.transforms.action_keep import ActionKeepTransform
from lerobot_ext.transforms.base import TransformContext
from lerobot_ext.transforms.state_filter import StateFilterTransform
from lerobot_ext.transforms.steps import ActionPadStep, ActionSliceStep, StateFilterStep

USERS_KEPT_GROUPS = {  # what the RoboCasa users' notes say is left: 3 + 4 + 7 + 7 + 7 + 2 = 30
    "robot0_eef_pos": 3,
    "robot0_eef_quat": 4,
    "robot0_joint_pos": 7,
    "robot0_joint_pos_cos": 7,
    "robot0_joint_pos_sin": 7,
    "robot0_gripper_qpos": 2,
}


def request(keys=(), keep=None, force=False):
    return types.SimpleNamespace(
        state_filtered_keys=list(keys), action_keep_dims=keep, force_action_keep_dims=force
    )


def apply(transform, dataset, adapter=None, **kwargs):
    return transform.apply(TransformContext(cfg=request(**kwargs), dataset=dataset, adapter=adapter))


@pytest.fixture(scope="module")
def robocasa(robocasa_root) -> DatasetDescription:
    return load_description(robocasa_root)[0]


def without_names(dataset: DatasetDescription) -> DatasetDescription:
    features = json.loads(json.dumps(dataset.features))
    for feature in features.values():
        feature["names"] = None
    return DatasetDescription(
        dataset.robot_type, dataset.fps, features, dataset.stats, dataset.modality, dataset.root
    )


def synthetic(state_width, action_low, action_high, names=None, modality=None, robot_type=None):
    low, high = np.asarray(action_low, dtype=float), np.asarray(action_high, dtype=float)
    features = {
        "observation.state": {"dtype": "float32", "shape": (state_width,), "names": names},
        "action": {"dtype": "float32", "shape": (len(low),), "names": None},
    }
    stats = {
        "observation.state": {k: np.zeros(state_width) for k in ("min", "max", "mean", "std")},
        "action": {
            "min": low,
            "max": high,
            "mean": (low + high) / 2,
            "std": high - low,
            "count": np.array([100]),
        },
    }
    return DatasetDescription(robot_type, 20, features, stats, modality)


# ----------------------------------------------------------------------------- the users' flags


def test_the_robocasa_adapter_suggests_the_users_filter(robocasa):
    from lerobot_ext.adapters.robocasa import ARM_ONLY_DROP

    assert list(ARM_ONLY_DROP) == USERS_FILTER
    assert any(
        "leaves 30 dims" in note and ",".join(USERS_FILTER) in note
        for note in RobocasaAdapter().notes(robocasa)
    )


def test_users_filter_leaves_30_state_dims_on_the_robocasa_layout(robocasa):
    result = apply(StateFilterTransform(), robocasa, RobocasaAdapter(), keys=USERS_FILTER)
    state = result.features["observation.state"]
    assert state["shape"] == (30,)
    kept_groups = {}
    for name in state["names"]:
        group = name.rsplit("_", 1)[0]
        kept_groups[group] = kept_groups.get(group, 0) + 1
    assert kept_groups == USERS_KEPT_GROUPS
    for stat in ("min", "max", "mean", "std"):
        assert np.asarray(result.stats["observation.state"][stat]).shape == (30,)
    step = result.preprocessor_steps[0]
    assert isinstance(step, StateFilterStep) and step.input_width == 53 and len(step.keep) == 30
    # The kept dims are the right ones: eef_pos is dims 7-9 of the 53-D layout.
    assert step.keep[:3] == [7, 8, 9]
    assert "53 -> 30 dims" in result.summary


def test_action_keep_dims_7_leaves_7_and_records_the_constants(robocasa):
    result = apply(ActionKeepTransform(), robocasa, RobocasaAdapter(), keep=7)
    assert result.features["action"]["shape"] == (7,)
    assert result.features["action"]["names"][:3] == [f"end_effector_position_{i}" for i in range(3)]
    assert np.asarray(result.stats["action"]["max"]).shape == (7,)
    assert (
        np.asarray(result.stats["action"]["count"]).shape
        == np.asarray(robocasa.stats["action"]["count"]).shape
    )
    (pad,) = result.postprocessor_steps
    assert isinstance(pad, ActionPadStep) and pad.output_width == 12
    assert pad.fill_values == [0.0, 0.0, 0.0, 0.0, -1.0]  # base motion 0, control mode -1
    (cut,) = result.preprocessor_steps
    assert isinstance(cut, ActionSliceStep) and (cut.keep_dims, cut.input_width) == (7, 12)
    assert "dropped dims 7..11 (constant values 0, 0, 0, 0, -1, re-filled at inference)" in result.summary


def test_users_filter_on_the_16d_robocasa365_layout_is_refused():
    modality = {"state": {g.name: {"start": g.start, "end": g.stop} for g in STATE_16}}
    dataset = synthetic(16, [0] * 12, [1] * 12, modality=modality, robot_type="PandaOmron")
    with pytest.raises(DatasetLayoutError) as excinfo:
        apply(StateFilterTransform(), dataset, RobocasaAdapter(), keys=USERS_FILTER)
    message = str(excinfo.value)
    assert "unknown state group(s) ['robot0_joint_vel', 'robot0_gripper_qvel']" in message
    assert "state 16-D" in message
    assert "base_position = robot0_base_pos [0:3]" in message  # what does exist, both spellings
    assert "gripper_qpos = robot0_gripper_qpos [14:16]" in message


def test_a_filter_that_leaves_few_dims_warns_loudly(caplog):
    import logging

    modality = {"state": {g.name: {"start": g.start, "end": g.stop} for g in STATE_16}}
    dataset = synthetic(16, [0] * 12, [1] * 12, modality=modality, robot_type="PandaOmron")
    keys = ["robot0_base_pos", "robot0_base_quat", "robot0_base_to_eef_pos", "robot0_base_to_eef_quat"]
    logger = logging.getLogger("lerobot_ext")
    logger.propagate = True
    try:
        with caplog.at_level(logging.INFO, logger="lerobot_ext"):
            result = apply(StateFilterTransform(), dataset, RobocasaAdapter(), keys=keys)
    finally:
        logger.propagate = False
    assert result.features["observation.state"]["shape"] == (2,)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("only 2 of 16 state dims are left" in message for message in warnings)
    assert "state dims are left" not in result.summary  # the summary is logged at INFO


# ----------------------------------------------------------------------------- where names come from


def test_group_names_from_modality_json_in_both_spellings(robocasa):
    dataset = without_names(robocasa)  # only meta/modality.json names the groups now
    gr00t = [ROBOSUITE_TO_GR00T[k] for k in USERS_FILTER]
    for keys in (USERS_FILTER, gr00t):
        result = apply(StateFilterTransform(), dataset, None, keys=keys)
        assert result.features["observation.state"]["shape"] == (30,)
        assert "(from meta/modality.json)" in result.summary


def test_group_names_from_the_adapter_table_when_the_dataset_names_nothing(robocasa):
    bare = without_names(robocasa)
    bare.modality = None
    with pytest.raises(DatasetLayoutError, match="the dataset names no groups and no adapter knows it"):
        apply(StateFilterTransform(), bare, None, keys=USERS_FILTER)
    result = apply(StateFilterTransform(), bare, RobocasaAdapter(), keys=USERS_FILTER)
    assert result.features["observation.state"]["shape"] == (30,)
    assert "(from robot adapter 'robocasa')" in result.summary


def test_names_as_a_dict_of_lists_and_exact_per_dim_names(gr2_root):
    dataset = load_description(gr2_root)[0]
    assert isinstance(dataset.features["observation.state"]["names"], dict)
    result = apply(
        StateFilterTransform(), dataset, FourierGR2Adapter(), keys=["imu_acc", "imu_omega", "waist_yaw_joint"]
    )
    assert result.features["observation.state"]["shape"] == (38,)
    names = result.features["observation.state"]["names"]
    assert (
        list(names) == ["motors"]
        and "imu_acc_x" not in names["motors"]
        and "waist_yaw_joint" not in names["motors"]
    )


def test_names_as_a_dict_of_several_lists_are_sliced_per_list():
    from lerobot_ext.layout import flatten_names
    from lerobot_ext.transforms.state_filter import slice_names

    names = {"arm": ["arm_0", "arm_1", "arm_2"], "gripper": ["gripper"], "base": ["base_0", "base_1"]}
    dataset = synthetic(6, [0], [1], names=names)
    result = apply(StateFilterTransform(), dataset, None, keys=["arm", "base_1"])
    state = result.features["observation.state"]
    assert state["shape"] == (2,)
    assert state["names"] == {"gripper": ["gripper"], "base": ["base_0"]}
    assert len(flatten_names(state["names"])) == state["shape"][0]
    assert slice_names(names, [0, 1, 2, 3]) == {"arm": ["arm_0", "arm_1", "arm_2"], "gripper": ["gripper"]}
    assert slice_names(names, [6]) is None  # the names do not cover the vector


def test_sub_feature_states_drop_whole_features():
    features = {
        "observation.state.robot0_eef_pos": {"dtype": "float32", "shape": (3,), "names": None},
        "observation.state.robot0_joint_vel": {"dtype": "float32", "shape": (7,), "names": None},
        "action": {"dtype": "float32", "shape": (7,), "names": None},
    }
    stats = {key: {"min": np.zeros(3), "max": np.ones(3)} for key in features}
    dataset = DatasetDescription("PandaOmron", 20, features, stats)
    result = apply(StateFilterTransform(), dataset, None, keys=["robot0_joint_vel"])
    assert "observation.state.robot0_joint_vel" not in result.features
    assert "observation.state.robot0_joint_vel" not in result.stats
    assert "observation.state.robot0_eef_pos" in result.features
    (step,) = result.preprocessor_steps
    assert step.drop_features == ["observation.state.robot0_joint_vel"]


# ----------------------------------------------------------------------------- errors, read


def test_action_keep_dims_above_the_width_is_refused(robocasa):
    with pytest.raises(
        DatasetLayoutError,
        match=r"--action_keep_dims=13 but the dataset's action has only 12 dims; use N <= 12",
    ):
        apply(ActionKeepTransform(), robocasa, None, keep=13)


def test_dropping_varying_dims_is_refused_with_their_ranges(robocasa):
    with pytest.raises(DatasetLayoutError) as excinfo:
        apply(ActionKeepTransform(), robocasa, RobocasaAdapter(), keep=5)
    message = str(excinfo.value)
    assert "would drop action dims 5..11, but these vary in the dataset" in message
    assert "dim 5 (end_effector_rotation_2) in [" in message and "dim 6 (gripper_close) in [-1, 1]" in message
    assert "dim 7" not in message  # constant dims are not listed
    assert "--action_keep_dims=7" in message and "--force_action_keep_dims=true" in message


def test_forcing_varying_dims_warns_and_fills_with_the_mean(robocasa, caplog):
    import logging

    logger = logging.getLogger("lerobot_ext")
    logger.propagate = True
    try:
        with caplog.at_level(logging.WARNING, logger="lerobot_ext"):
            result = apply(ActionKeepTransform(), robocasa, None, keep=6, force=True)
    finally:
        logger.propagate = False
    assert "dropping varying action dims" in caplog.text and "dim 6 (gripper_close)" in caplog.text
    mean = float(np.asarray(robocasa.stats["action"]["mean"])[6])
    assert result.postprocessor_steps[0].fill_values == pytest.approx([mean, 0, 0, 0, 0, -1])
    assert "constant values" not in result.summary  # the mean of a varying dim is no constant
    assert (
        f"re-filled at inference with {mean:g}, 0, 0, 0, 0, -1: the mean of varying dim(s) 6 "
        "(--force_action_keep_dims), the constant value of the rest" in result.summary
    )


def test_action_keep_dims_without_an_action_feature_says_what_to_do():
    dataset = synthetic(4, [0, 0], [1, 0])
    del dataset.features["action"]
    with pytest.raises(DatasetLayoutError) as excinfo:
        apply(ActionKeepTransform(), dataset, None, keep=1)
    message = str(excinfo.value)
    assert "--action_keep_dims=1: the dataset has no 'action' feature (it has: observation.state)" in message
    assert "Drop --action_keep_dims, or point --dataset.repo_id / --dataset.root" in message


def test_action_keep_dims_needs_min_max_stats():
    dataset = synthetic(4, [0, 0], [1, 0])
    dataset.stats["action"] = {"mean": np.zeros(2)}
    with pytest.raises(DatasetLayoutError, match="needs the dataset's action min/max stats"):
        apply(ActionKeepTransform(), dataset, None, keep=1)


def test_filtering_every_state_dim_is_refused():
    dataset = synthetic(3, [0], [1], names=["a_0", "a_1", "a_2"])
    with pytest.raises(DatasetLayoutError, match="drops all 3 dims"):
        apply(StateFilterTransform(), dataset, None, keys=["a"])


def test_unknown_robot_adapter_lists_the_registered_ones(robocasa):
    from lerobot_ext.adapters.selection import select_adapter

    adapters = load_plugins(environ={}).registry.robot_adapters
    with pytest.raises(
        ConfigError,
        match=r"--robot_adapter=franka is not a registered robot adapter; registered: .*fourier_gr2.*robocasa",
    ):
        select_adapter(adapters, robocasa, "franka")
    assert select_adapter(adapters, robocasa, None).adapter.name == "robocasa"


def test_config_level_errors():
    from lerobot_ext.transforms.plugin import configure

    with pytest.raises(
        ConfigError,
        match=r"malformed entries \['a,b'\].*--state_filtered_keys=\[robot0_base_pos,robot0_joint_vel\]",
    ):
        configure(request(keys=["a,b"]))
    with pytest.raises(ConfigError, match="--force_action_keep_dims=true needs --action_keep_dims=N"):
        configure(request(force=True))
    with pytest.raises(ConfigError, match="--action_keep_dims=0 keeps no action dims"):
        configure(request(keep=0))


# ----------------------------------------------------------------------------- checkpoints


def _processor_files(root, pre_steps, post_steps):
    for name, steps in (("policy_preprocessor", pre_steps), ("policy_postprocessor", post_steps)):
        (root / f"{name}.json").write_text(json.dumps({"name": name, "steps": steps}))


def test_a_local_checkpoint_without_transforms_may_gain_them(tmp_path, caplog):
    import logging

    from lerobot_ext.dataset_changes import AppliedChanges, DatasetChange, SavedCheckpoint
    from lerobot_ext.transforms.checkpoints import check_matches

    def check_checkpoint_matches(path, applied):
        check_matches(SavedCheckpoint.read(path), applied)

    # A padded VLA base model saved locally: lerobot's own steps only.
    upstream = [{"registry_name": "normalizer_processor", "config": {}}]
    _processor_files(tmp_path, upstream, upstream)
    narrowed = synthetic(4, [0], [1])  # the dataset as the transforms leave it: 1-D action
    change = DatasetChange(
        features=narrowed.features,
        stats=narrowed.stats,
        preprocessor_steps=[ActionSliceStep(keep_dims=1, input_width=2)],
        postprocessor_steps=[ActionPadStep(fill_values=[0.0], output_width=2)],
    )
    applied = AppliedChanges(original=narrowed, dataset=narrowed, changes=[("transforms", change)])
    logger = logging.getLogger("lerobot_ext")
    logger.propagate = True
    try:
        with caplog.at_level(logging.INFO, logger="lerobot_ext"):
            check_checkpoint_matches(tmp_path, applied)
    finally:
        logger.propagate = False
    assert (
        f"the checkpoint at {tmp_path} has no data transforms; this run adds "
        "ActionSliceStep(keep_dims=1, input_width=2), ActionPadStep(fill_values=[0.0], output_width=2)"
    ) in caplog.text

    # Unless its weights are sized by the width the transforms change (it does not pad to a cap).
    config = {"type": "diffusion", "output_features": {"action": {"type": "ACTION", "shape": [2]}}}
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(
        ConfigError, match=r"diffusion weights are sized for a 2-D action, but .* make it 1-D"
    ):
        check_checkpoint_matches(tmp_path, applied)
    (tmp_path / "config.json").write_text(json.dumps({**config, "type": "pi0", "max_action_dim": 32}))
    check_checkpoint_matches(tmp_path, applied)

    # One that already carries transform steps must still match them.
    own = [
        {
            "class": "lerobot_ext.transforms.steps.ActionSliceStep",
            "config": {"keep_dims": 2, "input_width": 3},
        }
    ]
    _processor_files(tmp_path, [*own, *upstream], upstream)
    with pytest.raises(ConfigError, match=r"trained with data transforms \['ActionSliceStep\(keep_dims=2"):
        check_checkpoint_matches(tmp_path, applied)


# ----------------------------------------------------------------------------- the processor steps


def test_steps_filter_a_full_observation_and_refuse_a_wrong_width():
    step = StateFilterStep(keep=[0, 2], input_width=4, dropped_groups=["b"])
    transition = {TransitionKey.OBSERVATION: {"observation.state": torch.tensor([[1.0, 2.0, 3.0, 4.0]])}}
    out = step(transition)
    assert out[TransitionKey.OBSERVATION]["observation.state"].tolist() == [[1.0, 3.0]]
    assert transition[TransitionKey.OBSERVATION]["observation.state"].shape == (1, 4)  # input untouched
    numpy_out = step({TransitionKey.OBSERVATION: {"observation.state": np.arange(4.0)}})
    assert numpy_out[TransitionKey.OBSERVATION]["observation.state"].tolist() == [0.0, 2.0]
    with pytest.raises(
        ValueError,
        match=r"observation.state has 2 dims, but this policy's state filter expects the robot's full 4-dim state \(it drops b and keeps 2\)",
    ):
        step({TransitionKey.OBSERVATION: {"observation.state": torch.zeros(2)}})


def test_action_steps_slice_for_training_and_pad_for_the_robot():
    cut = ActionSliceStep(keep_dims=2, input_width=4)
    out = cut({TransitionKey.ACTION: torch.arange(8.0).reshape(2, 4)})
    assert out[TransitionKey.ACTION].tolist() == [[0.0, 1.0], [4.0, 5.0]]
    assert cut({TransitionKey.ACTION: None})[TransitionKey.ACTION] is None  # inference: no action
    with pytest.raises(ValueError) as excinfo:
        cut({TransitionKey.ACTION: torch.ones(1, 3)})
    assert "action has 3 dims; this transform keeps dims 0..1 of the dataset's 4-dim action" in str(
        excinfo.value
    )
    assert "Feed it the full 4-dim action" in str(excinfo.value)
    pad = ActionPadStep(fill_values=[0.0, -1.0], output_width=4)
    padded = pad({TransitionKey.ACTION: torch.ones(3, 2)})[TransitionKey.ACTION]
    assert padded.tolist() == [[1.0, 1.0, 0.0, -1.0]] * 3
    with pytest.raises(ValueError) as excinfo:
        pad({TransitionKey.ACTION: torch.ones(1, 3)})
    assert "the policy returned 3 action dims; expected 2 to pad back to the robot's 4" in str(excinfo.value)
    assert "policy_postprocessor.json saved in the same checkpoint folder" in str(excinfo.value)


def test_steps_rebuild_from_their_config_and_describe_features():
    for step in (
        StateFilterStep(keep=[1], input_width=3, drop_features=["observation.state.x"], dropped_groups=["a"]),
        ActionSliceStep(keep_dims=2, input_width=5),
        ActionPadStep(fill_values=[0.5], output_width=3),
    ):
        again = type(step)(**json.loads(json.dumps(step.get_config())))
        assert again.get_config() == step.get_config()
    features = {
        PipelineFeatureType.OBSERVATION: {
            "observation.state": PolicyFeature(FeatureType.STATE, (3,)),
            "observation.state.x": PolicyFeature(FeatureType.STATE, (2,)),
        },
        PipelineFeatureType.ACTION: {"action": PolicyFeature(FeatureType.ACTION, (5,))},
    }
    out = StateFilterStep(keep=[1], input_width=3, drop_features=["observation.state.x"]).transform_features(
        features
    )
    assert set(out[PipelineFeatureType.OBSERVATION]) == {"observation.state"}
    assert out[PipelineFeatureType.OBSERVATION]["observation.state"].shape == (1,)
    assert ActionSliceStep(keep_dims=2, input_width=5).transform_features(features)[
        PipelineFeatureType.ACTION
    ]["action"].shape == (2,)
