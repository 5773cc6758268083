"""A pretrained VLA narrower than the robot (GR2's 45-D state / 37-D action into 32-wide caps):
the refusal names the flags that make the data fit, and ``--widen_pretrained`` zero-extends the
state/action projections so that the pretrained dims act exactly as before while the new dims
train from zero. SmolVLA on the tiny SmolVLM the suite writes; PI0/PI05 on their projections."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import re
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import dataset_flags, train_in_process
from torch import nn

from lerobot_ext import ConfigError, DatasetDescription, Group, RobotAdapter
from lerobot_ext.demo.tiny_smolvlm import IMAGE_SIZE
from lerobot_ext.vla_caps import plugin
from lerobot_ext.vla_caps.fit import action_advice, is_auxiliary, state_advice
from lerobot_ext.vla_caps.widen import PROJECTIONS, widen_inputs, widen_outputs, widen_policy

CAMERA = "observation.images.camera_top"
STATE, ACTION = "observation.state", "action"
# What the refusal computes for the GR2 demo data (see lerobot_ext.vla_caps.fit): its base
# orientation groups are constant, then the IMU goes (last group first); the action's dims 29..36
# (waist roll/pitch, base velocity) are constant.
GR2_STATE_FIX = "--state_filtered_keys=[base_quat,base_rpy,imu_acc,imu_omega]"
GR2_ACTION_FIX = "--action_keep_dims=29"


def tiny_smolvla_config(vlm: Path, state: int = 45, action: int = 37, caps: int = 32):
    from lerobot.configs.types import FeatureType, PolicyFeature
    from lerobot.policies.smolvla.configuration_smolvla import SmolVLAConfig

    return SmolVLAConfig(
        vlm_model_name=str(vlm),
        load_vlm_weights=False,
        resize_imgs_with_padding=(IMAGE_SIZE, IMAGE_SIZE),
        num_vlm_layers=2,
        chunk_size=8,
        n_action_steps=4,
        num_steps=4,
        device="cpu",
        push_to_hub=False,
        max_state_dim=caps,
        max_action_dim=caps,
        input_features={
            CAMERA: PolicyFeature(FeatureType.VISUAL, (3, 48, 48)),
            STATE: PolicyFeature(FeatureType.STATE, (state,)),
        },
        output_features={ACTION: PolicyFeature(FeatureType.ACTION, (action,))},
    )


@pytest.fixture(scope="module")
def pretrained_smolvla(tiny_smolvlm: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved SmolVLA at caps 32 trained on another robot (32-D state and action), with its
    processors: what a Hub checkpoint such as smolvla_base is to GR2."""
    from lerobot.policies.factory import make_pre_post_processors
    from lerobot.policies.smolvla.modeling_smolvla import SmolVLAPolicy

    torch.manual_seed(0)
    config = tiny_smolvla_config(tiny_smolvlm, state=32, action=32)
    folder = tmp_path_factory.mktemp("pretrained") / "smolvla_32"
    SmolVLAPolicy(config).save_pretrained(folder)
    for pipeline in make_pre_post_processors(config, dataset_stats=None):
        pipeline.save_pretrained(folder)
    return folder


def fine_tune(root: Path, pretrained: Path, out: Path, *extra: str) -> list[str]:
    return [*dataset_flags(root), f"--policy.path={pretrained}", "--policy.device=cpu",
            "--policy.push_to_hub=false", "--wandb.enable=false", "--num_workers=0", "--batch_size=2",
            "--seed=1", f"--output_dir={out}", *extra]  # fmt: skip


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("ERROR lerobot-ext")]


# --------------------------------------------------------------------------- the refusal


def test_the_refusal_names_the_flags_that_fit_and_they_do(gr2_root, pretrained_smolvla, tmp_path, capsys):
    assert train_in_process(fine_tune(gr2_root, pretrained_smolvla, tmp_path / "refused", "--steps=1")) == 2
    [line] = error_lines(capsys.readouterr().err)
    assert (
        f"observation.state is 45-D but the pretrained smolvla at {pretrained_smolvla} pads to "
        "max_state_dim=32, and action is 37-D but it pads to max_action_dim=32" in line
    )
    assert f"{GR2_STATE_FIX} (45 -> 32 dims; base_quat, base_rpy constant)" in line
    assert f"{GR2_ACTION_FIX} (dims 29..36 are constant, re-filled at inference)" in line
    assert "--widen_pretrained=true" in line
    assert not (tmp_path / "refused" / "checkpoints").exists()
    # The flags it names are flags to paste: with them the same command trains.
    flags = re.findall(r"--(?:state_filtered_keys|action_keep_dims)=\S+", line.split("; or")[0])
    assert flags == [GR2_STATE_FIX, GR2_ACTION_FIX]
    out = tmp_path / "fitted"
    assert train_in_process(fine_tune(gr2_root, pretrained_smolvla, out, "--steps=1", *flags)) == 0
    config = json.loads((out / "checkpoints" / "000001" / "pretrained_model" / "config.json").read_text())
    assert (config["max_state_dim"], config["max_action_dim"]) == (32, 32)


def test_the_refusal_keeps_the_runs_own_filter_and_adds_what_is_missing(gr2_root):
    from lerobot_ext.adapters.gr2 import FourierGR2Adapter

    dataset = _gr2_description(gr2_root)
    advice = state_advice(dataset, FourierGR2Adapter(), 32, dropped_keys=["left_hand"])
    # 45 - 6 = 39 dims: 7 more; the two constant groups are exactly 7.
    assert advice.flag == "--state_filtered_keys=[left_hand,base_quat,base_rpy]"
    assert advice.note == "45 -> 32 dims; base_quat, base_rpy constant"


def _gr2_description(root: Path) -> DatasetDescription:
    from lerobot_ext.inspect_dataset import load_description

    return load_description(root)[0]


def _description(
    state_names: list[str], state_low: list[float], state_high: list[float], action_low, action_high
):
    features = {
        STATE: {"dtype": "float32", "shape": (len(state_names),), "names": state_names},
        ACTION: {"dtype": "float32", "shape": (len(action_low),), "names": None},
    }
    stats = {
        STATE: {"min": np.asarray(state_low), "max": np.asarray(state_high)},
        ACTION: {
            "min": np.asarray(action_low),
            "max": np.asarray(action_high),
            "mean": np.asarray(action_low),
        },
    }
    return DatasetDescription(robot_type=None, fps=30, features=features, stats=stats)


class _Adapter(RobotAdapter):
    name = "test_layout"

    def __init__(self, groups: list[tuple[str, int]]) -> None:
        self.groups, start = [], 0
        for group_name, size in groups:
            self.groups.append(Group(group_name, start, start + size))
            start += size

    def state_groups(self, dataset):
        return self.groups


def test_the_state_rule_drops_constant_groups_then_auxiliary_ones_last_first_then_puts_back_what_is_not_needed():
    groups = [("arm", 7), ("gripper", 2), ("joint_vel", 7), ("base_pos", 3), ("mode", 1), ("imu_acc", 3)]
    width = sum(size for _, size in groups)  # 23
    low = [0.0] * width
    high = [1.0] * width
    high[16 + 3] = 0.0  # 'mode' is constant
    dataset = _description([f"d{i}" for i in range(width)], low, high, [0.0], [1.0])
    adapter = _Adapter(groups)
    # 1 dim over: the constant 'mode' alone.
    assert state_advice(dataset, adapter, 22).flag == "--state_filtered_keys=[mode]"
    # 4 over: mode (constant), then imu_acc (auxiliary, the last one) - 4 dims, nothing more.
    assert state_advice(dataset, adapter, 19).flag == "--state_filtered_keys=[mode,imu_acc]"
    # 8 over: mode, imu_acc, base_pos (7 dims: one short), joint_vel -> 14; then base_pos and
    # imu_acc are put back (mode + joint_vel = 8 suffice).
    assert state_advice(dataset, adapter, 15).flag == "--state_filtered_keys=[joint_vel,mode]"
    # Past the auxiliary groups, the robot's own groups go, the last first: mode, imu_acc,
    # base_pos, joint_vel, gripper, arm make 23; gripper, then mode are put back (20 suffice).
    assert state_advice(dataset, adapter, 3).flag == "--state_filtered_keys=[arm,joint_vel,base_pos,imu_acc]"
    # Without the adapter, the per-dim names: 'd' (d0..d22) is the whole vector, so single dims.
    assert state_advice(dataset, None, 22).flag == "--state_filtered_keys=[d19]"
    unnamed = _description([f"d{i}" for i in range(width)], low, high, [0.0], [1.0])
    unnamed.features[STATE]["names"] = None
    assert state_advice(unnamed, None, 22).flag is None
    assert (
        "--state_filtered_keys cannot: no robot adapter or dataset names groups"
        in state_advice(unnamed, None, 22).note
    )
    auxiliary = ("robot0_joint_vel", "robot0_gripper_qvel", "base_quat", "imu_omega", "wrist_torque")
    assert all(is_auxiliary(name) for name in auxiliary)
    assert not any(is_auxiliary(n) for n in ("left_arm", "robot0_eef_pos", "gripper", "abase", "velcro"))


def test_the_action_rule_drops_the_constant_tail_or_says_why_it_cannot():
    def advice(varying: list[bool], cap: int):
        low = [0.0] * len(varying)
        high = [1.0 if v else 0.0 for v in varying]
        return action_advice(_description(["s"], [0.0], [1.0], low, high), cap)

    assert advice([True] * 4 + [False] * 3, 5).flag == "--action_keep_dims=4"
    blocked = advice([True] * 4 + [False, True, False], 5)
    assert blocked.flag is None
    assert "--action_keep_dims cannot: action dims 5..6 are not all constant (dim 5 varies" in blocked.note
    assert "--force_action_keep_dims=true" in blocked.note


def test_a_policy_the_widening_does_not_know_is_refused_without_offering_it(caplog):
    from lerobot.policies.pi0_fast.configuration_pi0_fast import PI0FastConfig

    policy_cfg = PI0FastConfig(device="cpu")
    policy_cfg.pretrained_path = "/models/pi0fast"
    features = {STATE: {"shape": (45,)}, ACTION: {"shape": (37,)}}
    run = types.SimpleNamespace(stash={})
    with pytest.raises(ConfigError) as refused:
        plugin.configure_policy(
            cfg=types.SimpleNamespace(widen_pretrained=True),
            policy_cfg=policy_cfg,
            dataset_meta=types.SimpleNamespace(features=features),
            planned=None,
            run=run,
        )
    assert "pretrained pi0_fast at /models/pi0fast pads to max_state_dim=32" in str(refused.value)
    assert "--widen_pretrained" not in str(refused.value)
    assert "widen" not in run.stash["vla_caps"]


# --------------------------------------------------------------------------- SmolVLA widened


def _batch(state: torch.Tensor, vocab: int = 40) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    size = state.shape[0]
    return {
        CAMERA: torch.rand(size, 3, 48, 48, generator=generator),
        STATE: state,
        "observation.language.tokens": torch.randint(4, vocab, (size, 6), generator=generator),
        "observation.language.attention_mask": torch.ones(size, 6, dtype=torch.bool),
    }


def _pad(x: torch.Tensor, width: int, fill: torch.Tensor | None = None) -> torch.Tensor:
    extra = torch.zeros(*x.shape[:-1], width - x.shape[-1]) if fill is None else fill
    return torch.cat([x, extra], dim=-1)


def test_a_widened_smolvla_acts_as_the_pretrained_one_on_its_dims_and_its_new_dims_train(tiny_smolvlm):
    from lerobot.policies.smolvla.modeling_smolvla import SmolVLAPolicy

    torch.manual_seed(0)
    original = SmolVLAPolicy(tiny_smolvla_config(tiny_smolvlm)).eval()
    widened = copy.deepcopy(original)
    line = widen_policy(widened, 45, 37)
    assert "max_state_dim 32 -> 45 (state_proj +13 input columns)" in line
    assert "max_action_dim 32 -> 37 (action_in_proj +5 input columns, action_out_proj +5 output rows)" in line
    assert (widened.config.max_state_dim, widened.config.max_action_dim) == (45, 37)
    assert (original.config.max_state_dim, original.config.max_action_dim) == (32, 32)

    generator = torch.Generator().manual_seed(1)
    state = torch.randn(2, 32, generator=generator)
    noise = torch.randn(2, 8, 32, generator=generator)
    before = original.predict_action_chunk(_batch(state), noise=noise)
    after = widened.predict_action_chunk(_batch(_pad(state, 45)), noise=_pad(noise, 37))
    assert before.shape == (2, 8, 32) and after.shape == (2, 8, 37)
    assert torch.allclose(after[..., :32], before, rtol=1e-5, atol=1e-6)
    assert torch.equal(
        after[..., 32:], torch.zeros(2, 8, 5)
    )  # zero velocity: the new dims stay at their noise

    # Control: the comparison sees a difference where there is one - once the new state columns
    # are no longer zero (as after training), a nonzero new state dim changes the actions.
    trained = copy.deepcopy(widened)
    with torch.no_grad():
        trained.model.state_proj.weight[:, 32:] = 0.5
    busy = _pad(state, 45, fill=torch.ones(2, 13))
    changed = trained.predict_action_chunk(_batch(busy), noise=_pad(noise, 37))
    assert not torch.allclose(changed[..., :32], before, rtol=1e-5, atol=1e-6)
    # ... and with the new dims at zero it still acts as the pretrained one.
    same = trained.predict_action_chunk(_batch(_pad(state, 45)), noise=_pad(noise, 37))
    assert torch.allclose(same[..., :32], before, rtol=1e-5, atol=1e-6)

    # The new dims train from zero: their weights get gradients.
    widened.train()
    batch = {**_batch(busy), ACTION: torch.randn(2, 8, 37, generator=generator)}
    loss, _ = widened.forward(batch)
    loss.backward()
    model = widened.model
    assert model.state_proj.weight.grad[:, 32:].abs().sum() > 0
    assert model.action_out_proj.weight.grad[32:].abs().sum() > 0
    assert model.action_out_proj.bias.grad[32:].abs().sum() > 0


def test_a_widened_projection_keeps_its_dtype_device_and_trainability():
    frozen = nn.Linear(4, 3).to(torch.float64).requires_grad_(False)
    widen_inputs(frozen, 6)
    assert (frozen.weight.shape, frozen.weight.dtype, frozen.weight.requires_grad) == (
        (3, 6),
        torch.float64,
        False,
    )
    assert frozen.in_features == 6 and torch.equal(
        frozen.weight[:, 4:], torch.zeros(3, 2, dtype=torch.float64)
    )
    out = nn.Linear(3, 4)
    kept_weight, kept_bias = out.weight.detach().clone(), out.bias.detach().clone()
    widen_outputs(out, 7)
    assert out.out_features == 7 and out.weight.requires_grad
    assert torch.equal(out.weight[:4], kept_weight) and torch.equal(out.bias[:4], kept_bias)
    assert not out.weight[4:].any() and not out.bias[4:].any()
    with pytest.raises(ValueError, match="cannot narrow"):
        widen_outputs(out, 5)


def test_fine_tuning_a_pretrained_smolvla_on_wider_data_widens_saves_loads_and_resumes(
    gr2_root, pretrained_smolvla, tmp_path, capsys
):
    from lerobot.policies.smolvla.modeling_smolvla import SmolVLAPolicy

    out = tmp_path / "widened"
    command = fine_tune(
        gr2_root, pretrained_smolvla, out, "--widen_pretrained=true", "--steps=2", "--save_freq=2"
    )
    assert train_in_process(command) == 0
    err = capsys.readouterr().err
    [line] = [line for line in err.splitlines() if "--widen_pretrained: widened" in line]
    assert "max_state_dim 32 -> 45" in line and "max_action_dim 32 -> 37" in line
    model_dir = out / "checkpoints" / "000002" / "pretrained_model"
    config = json.loads((model_dir / "config.json").read_text())
    assert (config["max_state_dim"], config["max_action_dim"]) == (45, 37)
    assert config["input_features"][STATE]["shape"] == [45]
    assert config["output_features"][ACTION]["shape"] == [37]
    assert json.loads((model_dir / "train_config.json").read_text())["policy"]["max_state_dim"] == 45

    # Stock lerobot loads it at the new widths (a relative VLM folder resolves against the
    # working directory, as the deploy example does it).
    with contextlib.chdir(model_dir):
        policy = SmolVLAPolicy.from_pretrained(model_dir)
    model = policy.model
    widths = (
        model.state_proj.in_features,
        model.action_in_proj.in_features,
        model.action_out_proj.out_features,
    )
    assert widths == (45, 37, 37)
    # The new dims started at zero and trained.
    assert model.state_proj.weight[:, 32:].abs().sum() > 0
    assert model.action_out_proj.weight[32:].abs().sum() > 0
    with contextlib.chdir(pretrained_smolvla):
        pretrained = SmolVLAPolicy.from_pretrained(pretrained_smolvla)
    assert pretrained.model.state_proj.in_features == 32

    # It resumes: its caps now fit the data, so nothing is widened again.
    resume = ["--resume=true", f"--config_path={model_dir / 'train_config.json'}", "--steps=3"]
    assert train_in_process(resume) == 0
    assert "--widen_pretrained: widened" not in capsys.readouterr().err
    resumed = json.loads((out / "checkpoints" / "000003" / "pretrained_model" / "config.json").read_text())
    assert (resumed["max_state_dim"], resumed["max_action_dim"]) == (45, 37)


# --------------------------------------------------------------------------- PI0 / PI05 projections


def _projection_shell(model_class: type, config, width: int = 16) -> nn.Module:
    """``model_class`` (PI0Pytorch / PI05Pytorch) with only the projections and time MLPs its
    ``__init__`` makes - as it makes them, at a small width - and none of its Gemma backbones
    (gigabytes): enough to run upstream's ``embed_suffix`` on the real code."""
    model = model_class.__new__(model_class)
    nn.Module.__init__(model)
    model.config = config
    model.gradient_checkpointing_enabled = False
    model.action_in_proj = nn.Linear(config.max_action_dim, width)
    model.action_out_proj = nn.Linear(width, config.max_action_dim)
    if config.type == "pi0":
        model.state_proj = nn.Linear(config.max_state_dim, width)
        model.action_time_mlp_in = nn.Linear(2 * width, width)
        model.action_time_mlp_out = nn.Linear(width, width)
    else:
        model.time_mlp_in = nn.Linear(width, width)
        model.time_mlp_out = nn.Linear(width, width)
        if hasattr(config, "use_proprioceptive_memory"):  # lerobot 0.6.2
            memory = config.use_proprioceptive_memory
            model.proprio_history_proj = nn.Linear(config.max_state_dim, width) if memory else None
    return model


class _Policy(nn.Module):
    """What ``widen_policy`` reads of a policy: ``config`` and ``model``."""

    def __init__(self, config, model: nn.Module) -> None:
        super().__init__()
        self.config = config
        self.model = model


def _pi_policy(kind: str, **fields) -> _Policy:
    import importlib

    from lerobot_ext.upstream.names import instance_has

    projections = PROJECTIONS[kind]
    config_module = importlib.import_module(f"lerobot.policies.{kind}.configuration_{kind}")
    config_class = getattr(config_module, "PI0Config" if kind == "pi0" else "PI05Config")
    config = config_class(device="cpu", chunk_size=4, n_action_steps=4, **fields)
    model_module, _, model_name = projections.model_class.rpartition(".")
    model_class = getattr(importlib.import_module(model_module), model_name)
    model = _projection_shell(model_class, config)
    # The shell has the attributes upstream's __init__ gives (the doctor checks the same names).
    for name in projections.names():
        assert instance_has(model_class, name) or name in projections.optional
    torch.manual_seed(0)
    for module in model.modules():
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight)
    return _Policy(config, model)


@pytest.mark.parametrize("kind", ["pi0", "pi05"])
def test_pi0_and_pi05_projections_widen_with_the_pretrained_dims_unchanged(kind):
    policy = _pi_policy(kind)
    original = copy.deepcopy(policy)
    line = widen_policy(policy, 45, 37)
    assert (policy.config.max_state_dim, policy.config.max_action_dim) == (45, 37)
    generator = torch.Generator().manual_seed(2)
    state = torch.randn(2, 32, generator=generator)
    noise = torch.randn(2, 4, 32, generator=generator)
    time = torch.full((2,), 0.4)

    def suffix(p: _Policy, state: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        if kind == "pi0":
            return p.model.embed_suffix(state, noise, time)[0]
        return p.model.embed_suffix(noise, time)[0]

    before = suffix(original, state, noise)
    after = suffix(policy, _pad(state, 45), _pad(noise, 37))
    assert torch.allclose(after, before, rtol=1e-5, atol=1e-6)
    hidden = torch.randn(2, 4, 16, generator=generator)
    velocity = policy.model.action_out_proj(hidden)
    assert torch.allclose(velocity[..., :32], original.model.action_out_proj(hidden), rtol=1e-5, atol=1e-6)
    assert torch.equal(velocity[..., 32:], torch.zeros(2, 4, 5))
    # Control: a nonzero new action dim through a nonzero new column changes the embedding.
    with torch.no_grad():
        policy.model.action_in_proj.weight[:, 32:] = 1.0
    busy = suffix(policy, _pad(state, 45), _pad(noise, 37, fill=torch.ones(2, 4, 5)))
    assert not torch.allclose(busy, before, rtol=1e-5, atol=1e-6)
    if kind == "pi0":
        assert "state_proj +13 input columns" in line
    else:
        assert "max_state_dim 32 -> 45 (no projection)" in line and "prompt" in line


def test_pi05s_proprioceptive_memory_projection_widens_where_lerobot_has_it():
    from lerobot.policies.pi05.configuration_pi05 import PI05Config

    if "use_proprioceptive_memory" not in {field.name for field in dataclasses.fields(PI05Config)}:
        pytest.skip("this lerobot's PI05 has no proprioceptive memory (0.6.1)")
    policy = _pi_policy("pi05", use_proprioceptive_memory=True)
    original = copy.deepcopy(policy)
    line = widen_policy(policy, 45, None)
    assert "proprio_history_proj +13 input columns" in line
    state = torch.randn(3, 32)
    assert torch.allclose(
        policy.model.proprio_history_proj(_pad(state, 45)),
        original.model.proprio_history_proj(state),
        rtol=1e-5,
        atol=1e-6,
    )
