"""The upstream names the ``startup_warnings`` plugin's checks rely on (``lerobot-ext doctor``
checks them). The checks read most of them with ``getattr`` and a default, so a renamed one would
not fail: it would silence its warning. Declaring them makes doctor say so instead."""

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
    (
        "lerobot.configs.policies.PreTrainedConfig().pretrained_path",
        "the frozen-random-VLM check stays quiet for a policy loaded from a checkpoint",
    ),
    (
        "lerobot.policies.smolvla.configuration_smolvla.SmolVLAConfig().load_vlm_weights",
        "the frozen-random-VLM check: whether the VLM starts from its pretrained weights",
    ),
    (
        "lerobot.policies.smolvla.configuration_smolvla.SmolVLAConfig().train_expert_only",
        "the frozen-random-VLM check: whether the VLM is frozen",
    ),
    (
        "lerobot.policies.smolvla.configuration_smolvla.SmolVLAConfig().vlm_model_name",
        "the frozen-random-VLM warning names the VLM",
    ),
    (
        "lerobot.configs.policies.PreTrainedConfig().image_features",
        "the depth check compares the dataset's depth cameras with the policy's image inputs",
    ),
    (
        "lerobot.datasets.lerobot_dataset.LeRobotDatasetMetadata().depth_keys",
        "the depth check finds the dataset's depth cameras",
    ),
    (
        "lerobot.datasets.lerobot_dataset.LeRobotDatasetMetadata().episodes",
        "the task-text check reads each episode's tasks",
    ),
    (
        "lerobot.processor.pipeline.DataProcessorPipeline().steps",
        "the task-text check finds the preprocessor's tokenizer step",
    ),
    (
        "lerobot.processor.tokenizer_processor.TokenizerProcessorStep().input_tokenizer",
        "the task-text check counts tokens with the tokenizer the preprocessor uses",
    ),
    (
        "lerobot.processor.tokenizer_processor.TokenizerProcessorStep().max_length",
        "the task-text check compares each task's length with where the tokenizer cuts",
    ),
)


def declare(register: Callable[..., None]) -> None:
    """Declare the names (``register_upstream_names``'s ``register``)."""
    for path, why in NAMES:
        register(path, why)
