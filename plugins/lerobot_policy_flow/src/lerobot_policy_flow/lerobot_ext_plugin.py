"""Plugin module for lerobot-ext's pluggy plugin system (project name "lerobot_ext").

Declared as the `flow` entry point of the `lerobot_ext` group. It deliberately does not import
`lerobot_ext`, so this distribution also works with stock LeRobot alone.
"""

import pluggy

from .configuration_flow import FlowConfig

hookimpl = pluggy.HookimplMarker("lerobot_ext")

# Every upstream name the flow policy is built from; `lerobot-ext doctor` checks each one, and
# lerobot-ext's tests check that every lerobot import of this package is listed here.
_DIFFUSION = "lerobot.policies.diffusion.modeling_diffusion"
_CONSTANTS = "lerobot.utils.constants"
UPSTREAM_NAMES = (
    (
        f"{_DIFFUSION}.DiffusionConditionalUnet1d",
        "the velocity network (Diffusion Policy's 1-D U-Net)",
        ("config", "global_cond_dim"),
    ),
    (f"{_DIFFUSION}.DiffusionRgbEncoder", "the camera encoder, as Diffusion Policy's", ("config",)),
    (
        f"{_DIFFUSION}.DiffusionModel._prepare_global_conditioning",
        "builds the observation conditioning exactly as Diffusion Policy does (it reads only "
        "self.config and self.rgb_encoder, which the flow model provides)",
        ("batch",),
    ),
    ("lerobot.policies.common.flow_matching.euler_integrate", "the Euler ODE solver", ()),
    (
        "lerobot.policies.common.flow_matching.sample_time_beta",
        "pi0's noisy-end time sampling",
        ("alpha", "beta", "scale", "offset"),
    ),
    ("lerobot.policies.pretrained.PreTrainedPolicy", "the flow policy's base class", ()),
    ("lerobot.policies.utils.populate_queues", "observation queues for select_action", ("exclude_keys",)),
    ("lerobot.policies.utils.get_device_from_parameters", "the device sampled noise is made on", ()),
    ("lerobot.policies.utils.get_dtype_from_parameters", "the dtype sampled noise is made in", ()),
    ("lerobot.processor.make_default_pre_post_processors", "the flow policy's processors", ()),
    ("lerobot.processor.PolicyAction", "the postprocessor's output type", ()),
    ("lerobot.processor.PolicyProcessorPipeline", "the pipelines' type", ()),
    ("lerobot.configs.PreTrainedConfig", "the flow config's base class (registered as type 'flow')", ()),
    ("lerobot.configs.NormalizationMode", "the default normalisation of each feature type", ()),
    ("lerobot.optim.AdamConfig", "the optimizer preset", ("lr", "betas", "eps", "weight_decay")),
    (
        "lerobot.optim.DiffuserSchedulerConfig",
        "the learning-rate schedule, as Diffusion Policy's",
        ("name", "num_warmup_steps"),
    ),
    *(
        (f"{_CONSTANTS}.{name}", "batch keys", ())
        for name in ("ACTION", "OBS_STATE", "OBS_ENV_STATE", "OBS_IMAGES")
    ),
)


@hookimpl
def register_policies(register):
    """Contract: `register(name: str, config_class: type[PreTrainedConfig]) -> None`."""
    register("flow", FlowConfig)


@hookimpl
def register_upstream_names(register):
    """Contract: `register(path: str, why: str, parameters: tuple[str, ...] = ()) -> None`."""
    for path, why, parameters in UPSTREAM_NAMES:
        register(path, why, parameters=parameters)
