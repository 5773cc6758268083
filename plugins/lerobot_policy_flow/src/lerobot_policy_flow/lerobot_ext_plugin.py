"""Plugin module for lerobot-ext's pluggy plugin system (project name "lerobot_ext").

Declared as the `flow` entry point of the `lerobot_ext` group. It deliberately does not import
`lerobot_ext`, so this distribution also works with stock LeRobot alone.
"""

import pluggy

from .configuration_flow import FlowConfig

hookimpl = pluggy.HookimplMarker("lerobot_ext")

# What the flow policy relies on beyond its imports (lerobot-ext derives those from the source):
# parameters it passes by name, attributes it reads, private names. `lerobot-ext doctor` checks each.
_DIFFUSION = "lerobot.policies.diffusion.modeling_diffusion"
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
    (
        "lerobot.policies.common.flow_matching.sample_time_beta",
        "pi0's noisy-end time sampling",
        ("alpha", "beta", "scale", "offset"),
    ),
    ("lerobot.policies.utils.populate_queues", "observation queues for select_action", ("exclude_keys",)),
    ("lerobot.optim.AdamConfig", "the optimizer preset", ("lr", "betas", "eps", "weight_decay")),
    (
        "lerobot.optim.DiffuserSchedulerConfig",
        "the learning-rate schedule, as Diffusion Policy's",
        ("name", "num_warmup_steps"),
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
