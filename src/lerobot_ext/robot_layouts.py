"""Known robots' state and action layouts, as data: which dims of a vector hold what.

Shared by the robot adapters (which recognise them in a dataset) and the demo datasets (which
write them), as :mod:`lerobot_ext.layout` shares robosuite's and GR00T's spellings.
"""

from __future__ import annotations

from lerobot_ext.layout import Group


def group_table(spec: list[tuple[str, int]]) -> list[Group]:
    """Consecutive groups from ``[(name, width), ...]``."""
    groups, start = [], 0
    for name, size in spec:
        groups.append(Group(name, start, start + size))
        start += size
    return groups


# --------------------------------------------------------------------------- RoboCasa (PandaOmron)

# GR00T's RoboCasa data: robosuite's observation keys concatenated in this order.
ROBOCASA_STATE_53 = group_table(
    [
        ("robot0_base_pos", 3),
        ("robot0_base_quat", 4),
        ("robot0_eef_pos", 3),
        ("robot0_base_to_eef_pos", 3),
        ("robot0_eef_quat", 4),
        ("robot0_base_to_eef_quat", 4),
        ("robot0_gripper_qpos", 2),
        ("robot0_gripper_qvel", 2),
        ("robot0_joint_pos", 7),
        ("robot0_joint_pos_cos", 7),
        ("robot0_joint_pos_sin", 7),
        ("robot0_joint_vel", 7),
    ]
)
# The raw robosuite order; several published datasets are in fact stored this way.
ROBOCASA_ACTION_EE_FIRST = group_table(
    [
        ("end_effector_position", 3),
        ("end_effector_rotation", 3),
        ("gripper_close", 1),
        ("base_motion", 4),
        ("control_mode", 1),
    ]
)
# What RoboCasa365's modality.json declares.
ROBOCASA_ACTION_BASE_FIRST = group_table(
    [
        ("base_motion", 4),
        ("control_mode", 1),
        ("end_effector_position", 3),
        ("end_effector_rotation", 3),
        ("gripper_close", 1),
    ]
)

# --------------------------------------------------------------------------- Fourier GR2

GR2_ARM_JOINTS = (
    "shoulder_pitch",
    "shoulder_roll",
    "shoulder_yaw",
    "elbow_pitch",
    "wrist_yaw",
    "wrist_pitch",
    "wrist_roll",
)
GR2_HAND_JOINTS = ("thumb_bend", "thumb_rotation", "index", "middle", "ring", "pinky")


def _arm(side: str) -> list[str]:
    return [f"{side}_{joint}_joint" for joint in GR2_ARM_JOINTS]


def _hand(side: str) -> list[str]:
    return [f"{side}_hand_{joint}_joint" for joint in GR2_HAND_JOINTS]


def gr2_state_names() -> list[str]:
    """Per-dim names of the 45-D state, as GR2 recordings name them."""
    return [
        *_arm("left"),
        *_arm("right"),
        "head_yaw_joint",
        "head_pitch_joint",
        "waist_yaw_joint",
        *_hand("left"),
        *_hand("right"),
        *(f"base_pos_{a}" for a in "xyz"),
        *(f"base_quat_{a}" for a in "wxyz"),
        *(f"base_{a}" for a in ("roll", "pitch", "yaw")),
        *(f"imu_acc_{a}" for a in "xyz"),
        *(f"imu_omega_{a}" for a in "xyz"),
    ]


def gr2_action_names(width: int = 37) -> list[str]:
    waist = (
        ["waist_yaw_joint", "waist_roll_joint", "waist_pitch_joint"] if width == 37 else ["waist_yaw_joint"]
    )
    base = [f"base_vel_{a}" for a in ("x", "y", "z", "roll", "pitch", "yaw")]
    return [
        *_arm("left"),
        *_arm("right"),
        *_hand("left"),
        *_hand("right"),
        "head_yaw_joint",
        "head_pitch_joint",
        *waist,
        *base,
    ]
