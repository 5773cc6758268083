"""The upstream names the ``dataset_mix`` plugin relies on (``lerobot-ext doctor`` checks them).

Its imports are checked on their own; this lists the attributes of upstream's datasets and
metadata it reads, which no import shows.
"""

from __future__ import annotations

from collections.abc import Callable

_DATASET = "lerobot.datasets.lerobot_dataset.LeRobotDataset"
_METADATA = "lerobot.datasets.lerobot_dataset.LeRobotDatasetMetadata"

NAMES: tuple[tuple[str, str], ...] = (
    ("lerobot.datasets.factory.make_train_eval_datasets", "each mixed dataset is loaded as the primary is"),
    (f"{_DATASET}().episodes", "the episodes a mixed dataset's sampler draws from"),
    (f"{_DATASET}.hf_dataset", "the frames whose statistics the mix computes"),
    (f"{_DATASET}.absolute_to_relative_idx", "a dataset loaded with some episodes: where its frames are"),
    (f"{_METADATA}().episodes", "each episode's dataset_from_index/dataset_to_index"),
    (f"{_METADATA}().info", "the mix's metadata: total frames and episodes"),
)


def declare(register: Callable[..., None]) -> None:
    """Declare the names (``register_upstream_names``'s ``register``)."""
    for path, why in NAMES:
        register(path, why)
