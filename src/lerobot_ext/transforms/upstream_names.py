"""The upstream names the ``transforms`` plugin relies on (``lerobot-ext doctor`` checks them)."""

from __future__ import annotations

from collections.abc import Callable

NAMES = (
    ("lerobot.processor.TransitionKey.OBSERVATION", "the state filter reads the transition's observation"),
    ("lerobot.processor.TransitionKey.ACTION", "the keep/pad steps read the transition's action"),
    ("lerobot.configs.PipelineFeatureType.OBSERVATION", "the steps declare the state shape they leave"),
    ("lerobot.configs.PipelineFeatureType.ACTION", "the steps declare the action shape they leave"),
    (
        "lerobot.configs.types.FeatureType.ACTION",
        "lerobot-eval-ext finds the env's and the checkpoint's action",
    ),
    (
        "lerobot.configs.policies.PreTrainedConfig().output_features",
        "lerobot-eval-ext reads the action width a checkpoint's policy was built with",
    ),
)


def declare(register: Callable[..., None]) -> None:
    """Declare the names (``register_upstream_names``'s ``register``)."""
    for path, why in NAMES:
        register(path, why)
