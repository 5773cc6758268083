"""`flow` policy plugin for LeRobot: Diffusion Policy's architecture trained with flow matching.

Importing this package registers `--policy.type=flow` with LeRobot's `PreTrainedConfig`
(lerobot's `register_third_party_plugins()` does it automatically for installed
distributions named `lerobot_policy_*`).
"""

from .configuration_flow import FlowConfig, FlowConfigError
from .modeling_flow import FlowPolicy
from .processor_flow import make_flow_pre_post_processors

__all__ = ["FlowConfig", "FlowConfigError", "FlowPolicy", "make_flow_pre_post_processors"]
