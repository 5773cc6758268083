"""The plugin: a flag, a dataset change with a processor step, and a checkpoint check - all
through lerobot-ext's public hooks (``lerobot_ext.hookimpl``, ``lerobot_ext.dataset_changes``,
``lerobot_ext.errors``)."""

from __future__ import annotations

import numpy as np

from lerobot_ext import hookimpl
from lerobot_ext.dataset_changes import DatasetChange, class_path
from lerobot_ext.errors import ConfigError

from .steps import StateOffsetStep

STATE = "observation.state"


@hookimpl
def register_config_fields(register):
    register(
        "state_offsets",
        list[float],
        [],
        help="calibration offsets added to observation.state (one per dim), in training and on the robot",
    )


@hookimpl
def configure(cfg):
    if any(not np.isfinite(v) for v in cfg.state_offsets):
        raise ConfigError(f"--state_offsets={cfg.state_offsets}: every offset must be a finite number")


@hookimpl
def transform_dataset(cfg, dataset):
    if not cfg.state_offsets:
        return None
    width = dataset.width(STATE)
    if width != len(cfg.state_offsets):
        raise ConfigError(
            f"--state_offsets has {len(cfg.state_offsets)} values but {STATE} is {width}-D; give one per dim"
        )
    offsets = np.asarray(cfg.state_offsets, dtype=np.float64)
    stats = dict(dataset.stats)
    # A shift moves the location stats, not the spread.
    stats[STATE] = {
        name: (
            np.asarray(value) + offsets if name in ("mean", "min", "max") or name.startswith("q") else value
        )
        for name, value in dataset.stats[STATE].items()
    }
    return DatasetChange(
        features=dataset.features,
        stats=stats,
        preprocessor_steps=[StateOffsetStep(offsets=list(cfg.state_offsets))],
        summary=f"{STATE} + offsets {list(cfg.state_offsets)}",
    )


@hookimpl
def check_checkpoint(checkpoint, planned):
    saved = [step.config["offsets"] for step in checkpoint.steps_of({class_path(StateOffsetStep)})]
    wanted = [step.offsets for step in planned.steps if isinstance(step, StateOffsetStep)]
    if saved and saved != wanted:
        raise ConfigError(
            f"the checkpoint at {checkpoint.path} was calibrated with --state_offsets={saved[0]}, but this "
            f"run asks for {wanted[0] if wanted else 'none'}; use the checkpoint's offsets"
        )
