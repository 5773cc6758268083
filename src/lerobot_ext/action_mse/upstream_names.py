"""The upstream names the ``action_mse`` plugin relies on (``lerobot-ext doctor`` checks them)."""

from __future__ import annotations

from collections.abc import Callable

NAMES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "lerobot.datasets.factory.resolve_delta_timestamps",
        "the held-out frames get the policy's own observation and action windows",
        ("cfg", "ds_meta"),
    ),
    ("lerobot.datasets.lerobot_dataset.LeRobotDataset", "the held-out dataset", ("root", "delta_timestamps")),
    (
        "lerobot.datasets.lerobot_dataset.LeRobotDatasetMetadata",
        "the held-out dataset's fps and features",
        ("root",),
    ),
    (
        "lerobot.policies.diffusion.modeling_diffusion.DiffusionPolicy.predict_action_chunk",
        "chunks are sampled with the same noise every time",
        ("batch", "noise"),
    ),
)


def declare(register: Callable[..., None]) -> None:
    """Declare the names (``register_upstream_names``'s ``register``)."""
    for path, why, parameters in NAMES:
        register(path, why, parameters=parameters)
