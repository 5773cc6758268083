"""The upstream names the ``long_runs`` plugin relies on (``lerobot-ext doctor`` checks them)."""

from __future__ import annotations

from collections.abc import Callable

NAMES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "lerobot.datasets.lerobot_dataset.LeRobotDatasetMetadata",
        "--dataset.root is checked for the episodes' data and video files before training",
        ("repo_id", "root"),
    ),
    *(
        (
            f"lerobot.datasets.lerobot_dataset.LeRobotDatasetMetadata().{attribute}",
            "the files a dataset needs",
            (),
        )
        for attribute in ("total_episodes", "episodes", "data_path", "video_path", "video_keys")
    ),
    (
        "accelerate.data_loader.DataLoaderShard.set_epoch",
        "a resumed run's dataloader is put in the checkpoint's epoch (its counter and the sampler's)",
        ("epoch",),
    ),
    ("accelerate.data_loader.DataLoaderShard().iteration", "accelerate's epoch counter", ()),
    (
        "lerobot.datasets.sampler.EpisodeAwareSampler.state_dict",
        "where a resumed run's sampler is: its epoch and its offset into it",
        (),
    ),
    ("accelerate.PartialState().device", "the device of the one all-reduce the disk-room check makes", ()),
    (
        "huggingface_hub.try_to_load_from_cache",
        "whether what a run reads from the Hub (a checkpoint, a VLM, a tokenizer) is in the local cache",
        ("repo_id", "filename", "cache_dir"),
    ),
    (
        "lerobot.configs.policies.PreTrainedConfig.get_known_choices",
        "the installed policy types and their config classes",
        (),
    ),
    (
        "lerobot.processor.ProcessorStepRegistry.get",
        "a saved preprocessor step's class, for the default of what it loads",
        (),
    ),
)


def sampler_position() -> str | None:
    """A resumed run is positioned from the sampler's ``state_dict()`` (``epoch``, ``start_index``);
    accelerate's ``DataLoaderShard.set_epoch`` and ``iteration`` are names of their own (above)."""
    from lerobot.datasets.sampler import EpisodeAwareSampler

    sampler = EpisodeAwareSampler([0], [4])
    sampler.set_epoch(3)
    state = sampler.state_dict()
    if (
        not isinstance(state, dict)
        or state.get("epoch") != 3
        or not isinstance(state.get("start_index"), int)
    ):
        return f"EpisodeAwareSampler.state_dict() no longer holds the epoch and start_index (got {state!r})"
    return None


def declare(register: Callable[..., None]) -> None:
    """Declare the names (``register_upstream_names``'s ``register``)."""
    for path, why, parameters in NAMES:
        register(path, why, parameters=parameters)
    register(
        "lerobot.datasets.sampler.EpisodeAwareSampler.state_dict",
        "a resumed run continues in the epoch it stopped in, and its random state is put back only "
        "where the uninterrupted run drew none",
        check=sampler_position,
        note="epoch, start_index",
    )
