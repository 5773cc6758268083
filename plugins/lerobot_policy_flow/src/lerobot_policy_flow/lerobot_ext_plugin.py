"""Plugin module for lerobot-ext's pluggy plugin system (project name "lerobot_ext").

Declared as the `flow` entry point of the `lerobot_ext` group. It deliberately does not import
`lerobot_ext`, so this distribution also works with stock LeRobot alone.
"""

import pluggy

from .configuration_flow import FlowConfig

hookimpl = pluggy.HookimplMarker("lerobot_ext")


@hookimpl
def register_policies(register):
    """Contract: `register(name: str, config_class: type[PreTrainedConfig]) -> None`."""
    register("flow", FlowConfig)
