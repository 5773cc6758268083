"""The upstream names the ``data_cache`` plugin relies on (``lerobot-ext doctor`` checks them).

A cached item must be bit-identical to the one upstream's ``LeRobotDataset`` gives, so the cache
leans on more of the dataset's internals than any other feature: each is listed here.
"""

from __future__ import annotations

from collections.abc import Callable

_DATASET = "lerobot.datasets.lerobot_dataset.LeRobotDataset"
_METADATA = "lerobot.datasets.lerobot_dataset.LeRobotDatasetMetadata"

NAMES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "lerobot.datasets.video_utils.decode_video_frames",
        "the cache is decoded by lerobot's own decoder",
        ("return_uint8", "is_depth"),
    ),
    (
        "lerobot.datasets.video_utils._default_decoder_cache",
        "torchcodec decoders the spot check opened are cleared before DataLoader workers fork",
        (),
    ),
    (
        "lerobot.datasets.depth_utils.dequantize_depth",
        "cached depth frames are dequantised as lerobot does",
        ("depth_min", "depth_max", "shift", "use_log", "output_unit"),
    ),
    ("lerobot.configs.video.DepthEncoderConfig.from_video_info", "each depth camera's quantisation", ()),
    (
        "lerobot.configs.video.DepthEncoderConfig",
        "the quantisation parameters passed to dequantize_depth",
        ("depth_min", "depth_max", "shift", "use_log"),
    ),
    (
        "lerobot.configs.default.DatasetConfig",
        "the run's dataset settings",
        ("root", "video_backend", "return_uint8", "depth_output_unit"),
    ),
    (_DATASET, "the cache build opens the dataset as training does", ("root", "video_backend")),
    (f"{_DATASET}.hf_dataset", "the parquet columns and absolute frame indices cached", ()),
    (f"{_DATASET}().reader", "the dataset's reader, which holds its delta windows", ()),
    (
        "lerobot.datasets.dataset_reader.DatasetReader().delta_indices",
        "items read the same delta windows",
        (),
    ),
    (f"{_DATASET}().tolerance_s", "frames are decoded with the dataset's timestamp tolerance", ()),
    (f"{_DATASET}()._return_uint8", "cached frames are served as uint8 exactly when the dataset's are", ()),
    (f"{_DATASET}().image_transforms", "image augmentation is applied to cached frames as upstream does", ()),
    (f"{_DATASET}.set_image_transforms", "the spot check puts the augmentation back", ()),
    (f"{_DATASET}.clear_image_transforms", "the spot check compares raw items", ()),
    (f"{_DATASET}().root", "the dataset folder the cache belongs to", ()),
    (f"{_DATASET}().repo_id", "recorded in the cache's manifest", ()),
    (f"{_METADATA}.get_video_file_path", "the video files decoded into the cache", ()),
    *(
        (f"{_METADATA}().{attribute}", "what the cache holds and how items are cut", ())
        for attribute in (
            "video_keys",
            "camera_keys",
            "depth_keys",
            "image_keys",
            "features",
            "episodes",
            "total_episodes",
            "total_frames",
            "tasks",
            "fps",
        )
    ),
)


def declare(register: Callable[..., None]) -> None:
    """Declare the names (``register_upstream_names``'s ``register``)."""
    for path, why, parameters in NAMES:
        register(path, why, parameters=parameters)
