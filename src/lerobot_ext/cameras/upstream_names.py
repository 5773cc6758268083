"""The upstream names the ``cameras`` plugin relies on (``lerobot-ext doctor`` checks them)."""

from __future__ import annotations

from collections.abc import Callable

NAMES = (
    ("lerobot.processor.TransitionKey.OBSERVATION", "the step removes cameras from the observation"),
    ("lerobot.configs.PipelineFeatureType.OBSERVATION", "the step declares the observation it leaves"),
    (
        "lerobot.datasets.lerobot_dataset.LeRobotDataset().meta",
        "dropped cameras leave the dataset's meta.info.features, so its reader does not decode them",
    ),
    (
        "lerobot.datasets.lerobot_dataset.LeRobotDataset().reader",
        "the dataset's reader, whose delta_indices lose the dropped cameras",
    ),
    (
        "lerobot.datasets.dataset_reader.DatasetReader().delta_indices",
        "the reader decodes the windows of the keys in delta_indices: dropped cameras leave it",
    ),
    (
        "lerobot.datasets.lerobot_dataset.LeRobotDatasetMetadata().info",
        "replaced with dataclasses.replace(info, features=...) without the dropped cameras",
    ),
)


def declare(register: Callable[..., None]) -> None:
    """Declare the names (``register_upstream_names``'s ``register``)."""
    for path, why in NAMES:
        register(path, why)
