"""The upstream names the ``convert`` plugin relies on (``lerobot-ext doctor`` checks them).

The modules' ``from lerobot... import`` lines are read and checked by doctor on their own; this
lists what they do not show: the converter's steps (imported as a module, called by keyword),
the parameters passed by name, and the metadata attributes the verification reads.
"""

from __future__ import annotations

from collections.abc import Callable

_CONVERTER = "lerobot.scripts.convert_dataset_v21_to_v30"
_METADATA = "lerobot.datasets.lerobot_dataset.LeRobotDatasetMetadata"

NAMES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        f"{_CONVERTER}.convert_info",
        "v2.1 info.json -> v3.0 (lerobot-ext convert)",
        ("root", "new_root", "data_file_size_in_mb", "video_file_size_in_mb"),
    ),
    (f"{_CONVERTER}.convert_tasks", "tasks.jsonl -> meta/tasks.parquet", ("root", "new_root")),
    (
        f"{_CONVERTER}.convert_data",
        "the episodes' parquet files -> v3.0 data files (returns the episodes' data rows)",
        ("root", "new_root", "data_file_size_in_mb"),
    ),
    (
        f"{_CONVERTER}.convert_videos",
        "the episodes' videos remuxed into v3.0 video files, without re-encoding",
        ("root", "new_root", "video_file_size_in_mb"),
    ),
    (
        f"{_CONVERTER}.convert_episodes_metadata",
        "meta/episodes and meta/stats.json from v2.1's episodes.jsonl and episodes_stats.jsonl",
        ("root", "new_root", "episodes_metadata", "episodes_video_metadata"),
    ),
    (
        "lerobot.datasets.video_utils.decode_video_frames",
        "the verification decodes a frame per episode and camera with lerobot's decoder",
        ("return_uint8", "is_depth", "backend"),
    ),
    (
        "lerobot.datasets.compute_stats.get_feature_stats",
        "v2.0 sources: each episode's camera statistics, as the v2.1 recorder computed them",
        ("axis", "keepdims"),
    ),
    (f"{_METADATA}.get_data_file_path", "the verification reads each episode's converted rows", ()),
    (f"{_METADATA}.get_video_file_path", "the verification decodes each episode's converted frames", ()),
    *(
        (f"{_METADATA}().{attribute}", "what the verification compares with the source", ())
        for attribute in ("episodes", "tasks", "stats", "features", "total_episodes", "total_frames")
    ),
)


def declare(register: Callable[..., None]) -> None:
    """Declare the names (``register_upstream_names``'s ``register``)."""
    for path, why, parameters in NAMES:
        register(path, why, parameters=parameters)
