"""Pre/post-processors of the `flow` policy.

The flow policy consumes exactly what Diffusion Policy consumes, so it uses LeRobot's default
policy pipelines: rename -> add batch dim -> device -> normalise on the way in, and
unnormalise -> cpu on the way out. lerobot's `make_pre_post_processors` finds this function by
naming convention (`processor_flow.make_flow_pre_post_processors`).
"""

from typing import Any

import torch
from lerobot.processor import PolicyAction, PolicyProcessorPipeline, make_default_pre_post_processors

from .configuration_flow import FlowConfig


def make_flow_pre_post_processors(
    config: FlowConfig,
    dataset_stats: dict[str, dict[str, torch.Tensor]] | None = None,
) -> tuple[
    PolicyProcessorPipeline[dict[str, Any], dict[str, Any]],
    PolicyProcessorPipeline[PolicyAction, PolicyAction],
]:
    """Build the (preprocessor, postprocessor) pair for `config`, normalising with `dataset_stats`."""
    return make_default_pre_post_processors(config, dataset_stats)
