"""RoboCasa (robosuite ``PandaOmron``): the GR00T 53-D and RoboCasa365 16-D state layouts, 12-D action."""

from __future__ import annotations

from collections.abc import Mapping

from lerobot_ext import (
    ACTION_KEY,
    MODALITY_ALIASES,
    MODALITY_FILE,
    ROBOCASA_ACTION_BASE_FIRST,
    ROBOCASA_ACTION_EE_FIRST,
    ROBOCASA_STATE_53,
    ROBOSUITE_TO_GR00T,
    DatasetDescription,
    Group,
    RobotAdapter,
    conflicts,
    group_table,
    groups_from_modality,
)

STATE_53 = ROBOCASA_STATE_53
# What a fixed-base arm policy does not need from the 53-D state: the base pose, the EE pose
# relative to the base, and velocities - the RoboCasa users' filter, which leaves 30 dims.
ARM_ONLY_DROP = (
    "robot0_base_pos",
    "robot0_base_quat",
    "robot0_base_to_eef_pos",
    "robot0_base_to_eef_quat",
    "robot0_joint_vel",
    "robot0_gripper_qvel",
)
# RoboCasa365 (robocasa's own LeRobot converter).
STATE_16 = group_table(
    [
        ("base_position", 3),
        ("base_rotation", 4),
        ("end_effector_position_relative", 3),
        ("end_effector_rotation_relative", 4),
        ("gripper_qpos", 2),
    ]
)
ACTION_EE_FIRST = ROBOCASA_ACTION_EE_FIRST
ACTION_BASE_FIRST = ROBOCASA_ACTION_BASE_FIRST
EE_FIRST_BASE_DIMS = set(range(7, 11))
BASE_FIRST_BASE_DIMS = set(range(0, 4))


def action_order(dataset: DatasetDescription) -> str | None:
    """``"ee-first"`` or ``"base-first"`` from which dims are constant, else None.

    A layout file is not evidence: several published RoboCasa datasets declare base-first in
    modality.json but store the raw EE-first order. A robot whose base never moves has constant
    base-motion dims, and those sit at 7-10 (EE-first) or 0-3 (base-first).
    """
    if dataset.width(ACTION_KEY) != 12:
        return None
    constant = set(dataset.constant_dims(ACTION_KEY))
    ee_first = constant >= EE_FIRST_BASE_DIMS and not constant >= BASE_FIRST_BASE_DIMS
    base_first = constant >= BASE_FIRST_BASE_DIMS and not constant >= EE_FIRST_BASE_DIMS
    if ee_first:
        return "ee-first"
    if base_first:
        return "base-first"
    return None


class RobocasaAdapter(RobotAdapter):
    name = "robocasa"
    description = (
        "RoboCasa PandaOmron: GR00T 53-D or RoboCasa365 16-D state, 12-D EE-first or base-first action"
    )
    robot_types = ("PandaOmron", "PandaMobile", "robocasa")

    def aliases(self) -> Mapping[str, tuple[str, ...]]:
        pairs = {
            **{k: (v,) for k, v in ROBOSUITE_TO_GR00T.items()},
            **{v: (k,) for k, v in ROBOSUITE_TO_GR00T.items()},
        }
        return pairs

    def state_groups(self, dataset: DatasetDescription) -> list[Group] | None:
        return {53: STATE_53, 16: STATE_16}.get(dataset.width("observation.state") or 0)

    def action_groups(self, dataset: DatasetDescription) -> list[Group] | None:
        order = action_order(dataset)
        if order == "base-first":
            return ACTION_BASE_FIRST
        if order == "ee-first" or dataset.width(ACTION_KEY) == 12:
            return ACTION_EE_FIRST
        return None

    def groups_from_data(self, dataset: DatasetDescription, key: str) -> bool:
        return key == ACTION_KEY and action_order(dataset) is not None

    def notes(self, dataset: DatasetDescription) -> list[str]:
        notes = []
        width = dataset.width("observation.state")
        if width == 53:
            notes.append(
                "state layout: GR00T RoboCasa 53-D (robosuite keys); for an arm-only policy "
                f"--state_filtered_keys=[{','.join(ARM_ONLY_DROP)}] leaves 30 dims"
            )
        elif width == 16:
            notes.append("state layout: RoboCasa365 16-D (no joints, no velocities)")
        elif width is not None:
            notes.append(f"state is {width}-D, not a RoboCasa layout this adapter knows (53 or 16)")
        order = action_order(dataset)
        constant = dataset.constant_dims(ACTION_KEY)
        if order == "ee-first":
            notes.append(
                f"action order: EE-first (ee_pos 0:3, ee_rot 3:6, gripper 6, base 7:11, mode 11), "
                f"found from the stats: constant dims {constant}; --action_keep_dims=7 keeps the arm"
            )
        elif order == "base-first":
            notes.append(
                f"action order: base-first (base 0:4, mode 4, ee_pos 5:8, ee_rot 8:11, gripper 11), "
                f"found from the stats: constant dims {constant}; the unused base dims come FIRST, so "
                "--action_keep_dims cannot drop them"
            )
        elif dataset.width(ACTION_KEY) == 12:
            notes.append(
                f"action order: could not tell from the stats (constant dims {constant}); assuming EE-first"
            )
        if order is not None:
            notes.extend(_modality_disagreement(dataset, order, self.action_groups(dataset) or []))
        return notes


def _modality_disagreement(dataset: DatasetDescription, order: str, found: list[Group]) -> list[str]:
    declared = groups_from_modality(dataset.modality, "action", ACTION_KEY, MODALITY_ALIASES)
    pairs = conflicts(declared, found)
    if not pairs:
        return []
    where = ", ".join(f"{a.name} [{a.start}:{a.stop}] (data: [{b.start}:{b.stop}])" for a, b in pairs)
    label = {"ee-first": "EE-first", "base-first": "base-first"}[order]
    return [
        f"{MODALITY_FILE} disagrees with the data: its action section puts {where}, but the stats say "
        f"the action order is {label}, so the {label} table is used instead; correct the action "
        f"section of {MODALITY_FILE} to match"
    ]
