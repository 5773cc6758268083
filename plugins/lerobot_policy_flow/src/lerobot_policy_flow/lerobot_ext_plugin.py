"""Plugin module for lerobot-ext's pluggy plugin system (project name "lerobot_ext").

Declared as the `flow` entry point of the `lerobot_ext` group. It deliberately does not import
`lerobot_ext`, so this distribution also works with stock LeRobot alone.
"""

import pluggy

from .configuration_flow import FlowConfig

hookimpl = pluggy.HookimplMarker("lerobot_ext")

# The upstream names the flow policy is built from; `lerobot-ext doctor` checks each one.
_DIFFUSION = "lerobot.policies.diffusion.modeling_diffusion"
UPSTREAM_NAMES = (
    (f"{_DIFFUSION}.DiffusionConditionalUnet1d", "the velocity network (Diffusion Policy's 1-D U-Net)"),
    (f"{_DIFFUSION}.DiffusionRgbEncoder", "the camera encoder, as Diffusion Policy's"),
    (
        f"{_DIFFUSION}.DiffusionModel._prepare_global_conditioning",
        "builds the observation conditioning exactly as Diffusion Policy does",
    ),
    ("lerobot.policies.common.flow_matching.euler_integrate", "the Euler ODE solver"),
    ("lerobot.policies.common.flow_matching.sample_time_beta", "pi0's noisy-end time sampling"),
    ("lerobot.policies.utils.populate_queues", "observation queues for select_action"),
    ("lerobot.processor.make_default_pre_post_processors", "the flow policy's processors"),
    ("lerobot.optim.DiffuserSchedulerConfig", "the learning-rate schedule, as Diffusion Policy's"),
)


@hookimpl
def register_policies(register):
    """Contract: `register(name: str, config_class: type[PreTrainedConfig]) -> None`."""
    register("flow", FlowConfig)


@hookimpl
def register_upstream_names(register):
    """Contract: `register(path: str, why: str) -> None`."""
    for path, why in UPSTREAM_NAMES:
        register(path, why)
