"""The plugin, through lerobot-ext's public API only (``lerobot_ext.hookimpl``,
``lerobot_ext.dataset_changes``, ``lerobot_ext.errors``, ``lerobot_ext.console``):

* two flags, ``--state_offsets`` and ``--action_offsets`` (``register_config_fields``), checked in
  ``configure``;
* a dataset change (``transform_dataset``): the normaliser's stats move with the offsets, a
  ``StateOffsetStep`` goes first in the preprocessor (training and robot) and an
  ``ActionOffsetStep`` last in the postprocessor (robot);
* the training items' actions in calibrated coordinates (``wrap_dataset``);
* a checkpoint calibrated otherwise is refused (``check_checkpoint``);
* ``lerobot-ext calibration CHECKPOINT`` says what a checkpoint was calibrated with
  (``register_commands``).

The robot's encoders read ``offsets`` below the true joint angles: every state the policy sees
gets them added, and it learns (and outputs) calibrated actions, which the postprocessor turns
back into the robot's raw commands.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from lerobot_ext import ConfigError, DatasetChange, SavedCheckpoint, class_path, get_logger, hookimpl

from .steps import ActionOffsetStep, StateOffsetStep

STATE = "observation.state"
ACTION = "action"
# Which flag's offsets each saved step carries.
STEPS = {class_path(StateOffsetStep): "state_offsets", class_path(ActionOffsetStep): "action_offsets"}

log = get_logger("calibration")


@hookimpl
def register_config_fields(register):
    register(
        "state_offsets",
        list[float],
        [],
        help="calibration offsets added to observation.state (one per dim), in training and on the robot",
    )
    register(
        "action_offsets",
        list[float],
        [],
        help="calibration offsets of the action (one per dim): the policy learns recorded action + "
        "offsets, the robot gets the policy's action - offsets",
    )


@hookimpl
def configure(cfg):
    for name in STEPS.values():
        values = getattr(cfg, name)
        if any(not np.isfinite(v) for v in values):
            raise ConfigError(f"--{name}={values}: every offset must be a finite number")


def _shifted(stats: dict[str, Any], offsets: list[float]) -> dict[str, Any]:
    # A shift moves the location stats, not the spread.
    shift = np.asarray(offsets, dtype=np.float64)
    return {
        name: np.asarray(value) + shift if name in ("mean", "min", "max") or name.startswith("q") else value
        for name, value in stats.items()
    }


@hookimpl(order=40)  # after the built-in transforms (20) and cameras (30)
def transform_dataset(cfg, dataset):
    if not cfg.state_offsets and not cfg.action_offsets:
        return None
    stats = dict(dataset.stats)
    pre, post, summary = [], [], []
    for key, name, offsets in (
        (STATE, "state_offsets", cfg.state_offsets),
        (ACTION, "action_offsets", cfg.action_offsets),
    ):
        if not offsets:
            continue
        width = dataset.width(key)
        if width != len(offsets):
            raise ConfigError(f"--{name} has {len(offsets)} values but {key} is {width}-D; give one per dim")
        stats[key] = _shifted(dataset.stats[key], offsets)
        summary.append(f"{key} + offsets {list(offsets)}")
    if cfg.state_offsets:
        pre.append(StateOffsetStep(offsets=list(cfg.state_offsets)))
    if cfg.action_offsets:
        post.append(ActionOffsetStep(offsets=list(cfg.action_offsets)))
    return DatasetChange(
        features=dataset.features,
        stats=stats,
        preprocessor_steps=pre,
        postprocessor_steps=post,
        summary="; ".join(summary),
    )


class CalibratedActions(torch.utils.data.Dataset):
    """The training items with their action in calibrated coordinates (recorded + offsets)."""

    def __init__(self, dataset: Any, offsets: list[float]) -> None:
        self.dataset = dataset
        self.offsets = torch.tensor(offsets, dtype=torch.float32)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: Any) -> Any:
        item = dict(self.dataset[index])
        item[ACTION] = item[ACTION] + self.offsets.to(item[ACTION].dtype)
        return item

    def __getattr__(self, name: str) -> Any:
        # Upstream reads meta, episodes, ... off the dataset; they are the wrapped one's. The guard
        # keeps unpickling in DataLoader workers (before __dict__ is filled) from recursing.
        if name.startswith("__") or "dataset" not in self.__dict__:
            raise AttributeError(name)
        return getattr(self.__dict__["dataset"], name)


@hookimpl
def wrap_dataset(cfg, dataset, role):
    if not cfg.action_offsets:
        return None
    log.info("%s items: action + offsets %s (calibrated targets)", role, list(cfg.action_offsets))
    return CalibratedActions(dataset, list(cfg.action_offsets))


def saved_offsets(checkpoint: SavedCheckpoint) -> dict[str, list[float]]:
    """``{flag: offsets}`` of the calibration steps a checkpoint saved."""
    return {STEPS[step.class_path]: step.config["offsets"] for step in checkpoint.steps_of(STEPS)}


@hookimpl
def check_checkpoint(cfg, checkpoint):
    saved = saved_offsets(checkpoint)
    if not saved:
        return
    for name in STEPS.values():
        wanted = list(getattr(cfg, name))
        if saved.get(name, []) != wanted:
            raise ConfigError(
                f"the checkpoint at {checkpoint.path} was calibrated with --{name}={saved.get(name, [])}, but "
                f"this run asks for {wanted or 'none'}; use the checkpoint's offsets"
            )


def _configure_command(parser):
    parser.add_argument("checkpoint", help="a checkpoint's pretrained_model folder")


def _run_command(args):
    checkpoint = SavedCheckpoint.read(args.checkpoint)
    if checkpoint is None or not checkpoint.has_processors:
        raise ConfigError(
            f"{args.checkpoint} is not a checkpoint folder (no policy_preprocessor.json and "
            "policy_postprocessor.json); pass .../checkpoints/<step>/pretrained_model"
        )
    saved = saved_offsets(checkpoint)
    if not saved:
        print(f"{checkpoint.path}: not calibrated")
        return 0
    for name in STEPS.values():
        print(f"{checkpoint.path}: --{name}={saved.get(name, [])}")
    return 0


@hookimpl
def register_commands(register):
    register("calibration", "show what a checkpoint was calibrated with", _configure_command, _run_command)
