"""The upstream names the ``demo`` plugin relies on (``lerobot-ext doctor`` checks them)."""

from __future__ import annotations

from collections.abc import Callable

_DATASET = "lerobot.datasets.lerobot_dataset.LeRobotDataset"
NAMES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        f"{_DATASET}.create",
        "demo datasets are written with lerobot's own writer",
        ("repo_id", "fps", "features", "root", "robot_type", "use_videos", "video_backend"),
    ),
    (f"{_DATASET}.add_frame", "one frame of a demo episode", ()),
    (f"{_DATASET}.save_episode", "one demo episode, encoded in this process", ("parallel_encoding",)),
    (f"{_DATASET}.finalize", "closes the demo dataset's files", ()),
)


def declare(register: Callable[..., None]) -> None:
    """Declare the names (``register_upstream_names``'s ``register``)."""
    for path, why, parameters in NAMES:
        register(path, why, parameters=parameters)
