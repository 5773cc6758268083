"""Built-in plugin ``transforms``: ``--state_filtered_keys``, ``--action_keep_dims`` and
``--force_action_keep_dims``, through the same hooks a third-party plugin uses."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from lerobot_ext import (
    AppliedChanges,
    ConfigError,
    DatasetChange,
    DatasetDescription,
    RobotAdapter,
    SavedCheckpoint,
    StoredDataset,
    check_name_list,
    hookimpl,
)
from lerobot_ext.transforms import upstream_names
from lerobot_ext.transforms.action_keep import ActionKeepTransform
from lerobot_ext.transforms.base import DataTransform, TransformContext
from lerobot_ext.transforms.checkpoints import check_matches, padded_action_width
from lerobot_ext.transforms.state_filter import StateFilterTransform

# Applied in this order: the action slice sees the state filter's result.
TRANSFORMS: tuple[DataTransform, ...] = (StateFilterTransform(), ActionKeepTransform())


@hookimpl
def register_upstream_names(register: Callable[..., None]) -> None:
    upstream_names.declare(register)


@hookimpl
def register_config_fields(register: Callable[..., None]) -> None:
    register(
        "state_filtered_keys",
        list[str],
        [],
        help="named groups to drop from observation.state, e.g. [robot0_base_pos,robot0_joint_vel]; names "
        "come from the dataset's per-dim names, meta/modality.json or the robot adapter",
    )
    register(
        "action_keep_dims",
        int | None,
        None,
        help="keep only action dims 0..N-1; the dropped dims must be constant in the dataset stats and "
        "are re-filled with those constants at inference",
    )
    register(
        "force_action_keep_dims",
        bool,
        False,
        help="drop action dims that are NOT constant anyway (their mean is sent at inference)",
    )


@hookimpl
def configure(cfg: Any) -> None:
    """The flags' own checks: cheap, before any data is read."""
    if cfg.action_keep_dims is not None and cfg.action_keep_dims < 1:
        raise ConfigError(
            f"--action_keep_dims={cfg.action_keep_dims} keeps no action dims; use N >= 1, "
            "or leave it unset to keep them all"
        )
    if cfg.force_action_keep_dims and cfg.action_keep_dims is None:
        raise ConfigError("--force_action_keep_dims=true needs --action_keep_dims=N")
    check_name_list("state_filtered_keys", cfg.state_filtered_keys, "[robot0_base_pos,robot0_joint_vel]")


@hookimpl(order=20)  # explicit: the order of the steps saved in checkpoints
def transform_dataset(
    cfg: Any,
    dataset: DatasetDescription,
    adapter: RobotAdapter | None,
    run_datasets: list[StoredDataset],
) -> DatasetChange | None:
    """The state filter, then the action slice, folded into one change."""
    current, combined = dataset, None
    for transform in TRANSFORMS:
        change = transform.apply(
            TransformContext(cfg=cfg, dataset=current, adapter=adapter, run_datasets=run_datasets)
        )
        if change is None:
            continue
        if combined is None:
            combined = change
        else:
            combined = DatasetChange(
                features=change.features,
                stats=change.stats,
                preprocessor_steps=[*combined.preprocessor_steps, *change.preprocessor_steps],
                postprocessor_steps=[*combined.postprocessor_steps, *change.postprocessor_steps],
                summary="; ".join(s for s in (combined.summary, change.summary) if s),
            )
        current = dataclasses.replace(current, features=change.features, stats=change.stats)
    return combined


@hookimpl
def check_checkpoint(checkpoint: SavedCheckpoint, planned: AppliedChanges) -> None:
    check_matches(checkpoint, planned)


@hookimpl
def env_policy_features(
    policy_cfg: Any, env_features: dict[str, Any], checkpoint: SavedCheckpoint | None
) -> dict[str, Any] | None:
    """A checkpoint trained with --action_keep_dims=N has an N-wide action head and a saved
    postprocessor that pads to the robot's width: while that width is the environment's, the
    policy is built with the checkpoint's action feature, not the environment's."""
    from lerobot.configs.types import FeatureType

    width = padded_action_width(checkpoint)
    actions = [ft.shape[-1] for ft in env_features.values() if ft.type is FeatureType.ACTION]
    if width is None or actions != [width]:
        return None  # not the robot the checkpoint pads for: upstream decides
    saved = {key: ft for key, ft in policy_cfg.output_features.items() if ft.type is FeatureType.ACTION}
    return {**env_features, **saved}
