"""Built-in plugin ``cameras``: ``--camera_keys=[...]``, through the public hooks only.

* ``transform_dataset``: the policy is built for the kept cameras (their features and stats only),
  and a ``DropObservationsStep`` first in the saved preprocessor removes the others from a
  robot's full observation;
* ``wrap_dataset``: the dataset stops decoding the dropped cameras (the reader decodes the video
  features of its metadata, and the dropped ones are removed from it);
* ``check_checkpoint``: a checkpoint trained with other cameras is refused before it is loaded.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from lerobot_ext import (
    AppliedChanges,
    ConfigError,
    DatasetChange,
    DatasetDescription,
    SavedCheckpoint,
    check_name_list,
    class_path,
    get_logger,
    hookimpl,
)
from lerobot_ext.cameras import upstream_names
from lerobot_ext.cameras.selection import CAMERA_PREFIX, keep_cameras
from lerobot_ext.cameras.steps import DropObservationsStep

log = get_logger("cameras")


@hookimpl
def register_upstream_names(register: Callable[..., None]) -> None:
    upstream_names.declare(register)


@hookimpl
def register_config_fields(register: Callable[..., None]) -> None:
    register(
        "camera_keys",
        list[str],
        [],
        help="keep only these cameras, e.g. [robot0_eye_in_hand,robot0_agentview_left] (short or full "
        f"{CAMERA_PREFIX}<name> names): the others are not decoded, and the policy is built without them",
    )


@hookimpl
def configure(cfg: Any) -> None:
    check_name_list("camera_keys", cfg.camera_keys, "[robot0_eye_in_hand,robot0_agentview_left]")


@hookimpl(order=30)  # explicit: the order of the steps saved in checkpoints
def transform_dataset(cfg: Any, dataset: DatasetDescription) -> DatasetChange | None:
    if not cfg.camera_keys:
        return None
    found = keep_cameras(dataset, list(cfg.camera_keys))
    if found is None:
        log.info("--camera_keys names every camera of the dataset: nothing to drop")
        return None
    return found[0]


@hookimpl(optionalhook=True)
def profile_advice(cfg: Any, verdict: str, settings: dict[str, Any]) -> list[str] | None:
    """A data-bound run that decodes every camera: say that --camera_keys decodes fewer."""
    if verdict == "NOT" or cfg.camera_keys or settings.get("cameras", 0) < 2:
        return None
    return [
        f"--camera_keys=[...] decodes only the cameras the policy needs (now all {settings['cameras']}; "
        "`lerobot-ext inspect <dataset>` lists them)"
    ]


def _dropped(planned: AppliedChanges) -> list[str]:
    return [key for step in planned.steps if isinstance(step, DropObservationsStep) for key in step.keys]


@hookimpl
def wrap_dataset(dataset: Any, planned: AppliedChanges) -> None:
    """Remove the dropped cameras from the dataset's own metadata, so they are never decoded."""
    dropped = _dropped(planned)
    meta = getattr(dataset, "meta", None)
    reader = getattr(dataset, "reader", None)
    if not dropped or meta is None or not hasattr(meta, "info"):
        return None
    meta.info = dataclasses.replace(
        meta.info, features={k: v for k, v in meta.info.features.items() if k not in dropped}
    )
    delta_indices = getattr(reader, "delta_indices", None)
    if delta_indices:
        reader.delta_indices = {k: v for k, v in delta_indices.items() if k not in dropped}
    return None


@hookimpl
def check_checkpoint(checkpoint: SavedCheckpoint, planned: AppliedChanges) -> None:
    if not checkpoint.has_processors:
        return
    saved = [
        key for step in checkpoint.steps_of({class_path(DropObservationsStep)}) for key in step.config["keys"]
    ]
    planned_keys = _dropped(planned)
    if not saved:
        inputs = checkpoint.config.get("input_features") or {}
        needed = [key for key in planned_keys if key in inputs]
        if needed:
            raise ConfigError(
                f"the checkpoint at {checkpoint.path} has a policy that takes cameras {needed}, which "
                "--camera_keys drops. Keep them (add them to --camera_keys), or train from scratch."
            )
        return
    if sorted(saved) != sorted(planned_keys):
        raise ConfigError(
            f"the checkpoint at {checkpoint.path} was trained without cameras {saved}, but this run drops "
            f"{planned_keys or 'none'}. Use the --camera_keys the checkpoint was trained with (on --resume "
            "they come from its train_config.json: do not override them)."
        )
