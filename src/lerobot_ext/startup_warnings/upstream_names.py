"""The upstream names the ``startup_warnings`` plugin's environment-state check relies on
(``lerobot-ext doctor`` checks them)."""

from __future__ import annotations

from collections.abc import Callable

NAMES = (
    (
        "lerobot.configs.types.FeatureType.ENV",
        "the env-state check finds a policy's environment-state inputs",
    ),
    (
        "lerobot.configs.policies.PreTrainedConfig().input_features",
        "the env-state check reads the features a policy takes",
    ),
    (
        "lerobot.policies.diffusion.configuration_diffusion.DiffusionConfig().normalization_mapping",
        "the env-state check reads which feature types a policy normalises (keyed by FeatureType name)",
    ),
)


def declare(register: Callable[..., None]) -> None:
    """Declare the names (``register_upstream_names``'s ``register``)."""
    for path, why in NAMES:
        register(path, why)
