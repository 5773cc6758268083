"""FlowConfig: the users' command line is accepted, DDPM fields are gone, bad settings are explained."""

import dataclasses
import logging

import draccus
import pytest
from lerobot.configs import PreTrainedConfig
from lerobot.optim import AdamConfig, DiffuserSchedulerConfig
from lerobot.policies.diffusion.configuration_diffusion import DiffusionConfig

from lerobot_policy_flow import FlowConfig
from lerobot_policy_flow.configuration_flow import FlowConfigError

USER_FLAGS = [
    "--horizon=8",
    "--n_action_steps=7",
    "--drop_n_last_frames=0",
    "--vision_backbone=resnet18",
    "--crop_shape=[112,112]",
    "--use_separate_rgb_encoder_per_camera=true",
    "--down_dims=[512,1024,2048]",
    "--num_inference_steps=10",
    "--optimizer_lr=1e-4",
    "--push_to_hub=false",
]

USER_VALUES = dict(
    horizon=8,
    n_action_steps=7,
    drop_n_last_frames=0,
    vision_backbone="resnet18",
    crop_shape=(112, 112),
    use_separate_rgb_encoder_per_camera=True,
    down_dims=(512, 1024, 2048),
    num_inference_steps=10,
    optimizer_lr=1e-4,
    push_to_hub=False,
)

NOISE_SCHEDULER_FIELDS = {
    "noise_scheduler_type": "DDPM",
    "num_train_timesteps": 100,
    "beta_schedule": "squaredcos_cap_v2",
    "beta_start": 0.0001,
    "beta_end": 0.02,
    "prediction_type": "epsilon",
    "clip_sample": True,
    "clip_sample_range": 1.0,
}


def _check_user_values(cfg: FlowConfig) -> None:
    for name, value in USER_VALUES.items():
        got = getattr(cfg, name)
        if isinstance(value, tuple):
            got = tuple(got)
        assert got == value, (name, got, value)
    assert cfg.type == "flow"


def test_user_flags_accepted_by_constructor():
    _check_user_values(FlowConfig(device="cpu", **USER_VALUES))


def test_user_flags_parsed_by_draccus():
    _check_user_values(draccus.parse(FlowConfig, args=[*USER_FLAGS, "--device=cpu"]))


@dataclasses.dataclass
class _PolicyHolder:
    """Mimics TrainPipelineConfig's `policy: PreTrainedConfig | None` field."""

    policy: PreTrainedConfig | None = None


def test_user_flags_parsed_through_the_policy_choice_registry():
    # This is how lerobot-train resolves `--policy.type=flow --policy.<field>=...`.
    args = ["--policy.type=flow", "--policy.device=cpu"] + [f"--policy.{a[2:]}" for a in USER_FLAGS]
    holder = draccus.parse(_PolicyHolder, args=args)
    assert isinstance(holder.policy, FlowConfig)
    _check_user_values(holder.policy)


def test_defaults_match_diffusion_policy_for_shared_fields():
    flow_fields = {f.name: f for f in dataclasses.fields(FlowConfig)}
    diffusion_only = set(NOISE_SCHEDULER_FIELDS) | {"num_inference_steps"}

    def default(f):
        return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default

    for f in dataclasses.fields(DiffusionConfig):
        if f.name in diffusion_only:
            continue
        assert f.name in flow_fields, f"FlowConfig lacks DiffusionConfig field {f.name}"
        assert default(flow_fields[f.name]) == default(f), f.name
    cfg = FlowConfig(device="cpu")
    assert cfg.observation_delta_indices == [-1, 0]
    assert cfg.action_delta_indices == list(range(-1, 63))
    assert cfg.reward_delta_indices is None


def test_flow_defaults():
    cfg = FlowConfig(device="cpu")
    assert cfg.num_inference_steps == 10
    assert cfg.time_sampling == "beta"
    assert cfg.ode_solver == "euler"
    assert cfg.time_embed_scale > 1


@pytest.mark.parametrize("name", sorted(NOISE_SCHEDULER_FIELDS))
def test_noise_scheduler_fields_are_rejected(name):
    value = NOISE_SCHEDULER_FIELDS[name]
    assert not hasattr(FlowConfig(device="cpu"), name)
    with pytest.raises(TypeError, match=name):
        FlowConfig(device="cpu", **{name: value})
    flag = f"--{name}={str(value).lower() if isinstance(value, bool) else value}"
    with pytest.raises(SystemExit):  # argparse: "unrecognized arguments"
        draccus.parse(FlowConfig, args=["--device=cpu", flag])


INVALID = [
    # (overrides, field named in the message, a piece of the suggested fix)
    (dict(ode_solver="rk4"), "ode_solver", "euler, midpoint, heun"),
    (dict(time_sampling="logit_normal"), "time_sampling", "uniform, beta"),
    (dict(num_inference_steps=0), "num_inference_steps", ">= 1"),
    (dict(horizon=12, n_action_steps=8, down_dims=(64, 128, 256)), "horizon", "8, 16, 24, 32"),
    (dict(horizon=8, n_obs_steps=2, n_action_steps=8), "n_action_steps", "--policy.n_action_steps=7"),
    (dict(vision_backbone="vit_b_16"), "vision_backbone", "resnet18"),
    (dict(use_group_norm=True), "use_group_norm", "pretrained_backbone_weights=null"),
    (dict(down_dims=(12, 24), horizon=8, n_action_steps=4), "n_groups", "divisible by n_groups"),
    (dict(kernel_size=4), "kernel_size", "odd"),
    (dict(diffusion_step_embed_dim=7), "diffusion_step_embed_dim", "even"),
    (dict(crop_ratio=1.5), "crop_ratio", "(0, 1]"),
    (dict(time_sampling_scale=0.0), "time_sampling_scale", "(0, 1]"),
    (dict(time_embed_scale=-1.0), "time_embed_scale", "> 0"),
    (dict(drop_n_last_frames=-1), "drop_n_last_frames", ">= 0"),
]


@pytest.mark.parametrize("overrides,field_name,fix", INVALID, ids=[case[1] for case in INVALID])
def test_invalid_settings_raise_with_field_value_and_fix(overrides, field_name, fix):
    with pytest.raises(FlowConfigError) as excinfo:
        FlowConfig(device="cpu", **overrides)
    message = str(excinfo.value)
    assert isinstance(excinfo.value, ValueError)
    defaults = {f.name: f.default for f in dataclasses.fields(FlowConfig)}
    bad_value = overrides.get(field_name, defaults[field_name])
    assert f"`{field_name}`={bad_value!r}" in message, message
    assert fix in message, message


def test_invalid_value_reported_in_message():
    with pytest.raises(FlowConfigError, match=r"`ode_solver`='rk4'"):
        FlowConfig(device="cpu", ode_solver="rk4")
    with pytest.raises(FlowConfigError, match=r"`horizon`=12"):
        FlowConfig(device="cpu", horizon=12, n_action_steps=4)


def test_invalid_setting_fails_through_draccus_too():
    with pytest.raises(draccus.utils.ParsingError) as excinfo:
        draccus.parse(FlowConfig, args=["--device=cpu", "--ode_solver=rk4"])
    assert isinstance(excinfo.value.__cause__ or excinfo.value.__context__, FlowConfigError)


def test_validate_features(make_config):
    from lerobot.configs.types import FeatureType, PolicyFeature

    cfg = make_config(num_cameras=1)
    cfg.validate_features()  # fine

    no_cond = make_config()
    no_cond.input_features = {"observation.state": no_cond.input_features["observation.state"]}
    with pytest.raises(FlowConfigError, match="environment_state"):
        no_cond.validate_features()

    mismatched = make_config(num_cameras=2)
    mismatched.input_features["observation.images.cam1"] = PolicyFeature(FeatureType.VISUAL, (3, 40, 40))
    with pytest.raises(FlowConfigError, match="share one shape"):
        mismatched.validate_features()

    too_big_crop = make_config(num_cameras=1, crop_shape=(80, 80))
    with pytest.raises(FlowConfigError, match="crop_shape"):
        too_big_crop.validate_features()

    # <= 32 px reaches the spatial softmax as a 1x1 map: the camera would be silently ignored.
    tiny_crop = make_config(num_cameras=1, crop_shape=(28, 28))
    with pytest.raises(FlowConfigError, match=r"`crop_shape`=\(28, 28\).*1x1 feature map"):
        tiny_crop.validate_features()


def test_presets():
    cfg = FlowConfig(device="cpu", optimizer_lr=3e-4, scheduler_warmup_steps=7)
    opt = cfg.get_optimizer_preset()
    assert isinstance(opt, AdamConfig) and opt.lr == 3e-4 and tuple(opt.betas) == (0.95, 0.999)
    sched = cfg.get_scheduler_preset()
    assert isinstance(sched, DiffuserSchedulerConfig)
    assert sched.name == "cosine" and sched.num_warmup_steps == 7


def _crop_warnings(caplog):
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "crop_shape" in r.getMessage()
    ]


@pytest.mark.parametrize(
    "crop_ratio,used,said",
    [(1.0, None, "so no crop is used"), (0.5, (48, 48), "so a 48x48 crop is used")],
)
def test_explicit_crop_shape_overridden_by_resize_is_warned(caplog, crop_ratio, used, said):
    flags = dict(resize_shape=(96, 96), crop_shape=(84, 84), crop_ratio=crop_ratio)
    with caplog.at_level(logging.WARNING, logger="lerobot_policy_flow"):
        cfg = FlowConfig(device="cpu", **flags)
    # Same meaning as DiffusionConfig: with a resize, crop_ratio decides the crop.
    expected = DiffusionConfig(device="cpu", **flags).crop_shape
    assert cfg.crop_shape == used == (tuple(expected) if expected else None)
    [message] = _crop_warnings(caplog)
    assert "crop_shape=(84, 84) is ignored because resize_shape=(96, 96) is set" in message
    assert f"crop_ratio={crop_ratio}" in message and said in message


def test_crop_shape_matching_resize_and_ratio_is_silent(caplog, tmp_path):
    with caplog.at_level(logging.WARNING, logger="lerobot_policy_flow"):
        cfg = FlowConfig(device="cpu", resize_shape=(96, 96), crop_ratio=0.875, crop_shape=(84, 84))
        derived = FlowConfig(device="cpu", resize_shape=(96, 96), crop_ratio=0.875)
        # A saved config holds the derived crop next to the resize; loading it is not a conflict.
        derived.save_pretrained(tmp_path)
        loaded = PreTrainedConfig.from_pretrained(tmp_path)
    assert cfg.crop_shape == derived.crop_shape == (84, 84)
    assert tuple(loaded.crop_shape) == (84, 84)
    assert _crop_warnings(caplog) == []
