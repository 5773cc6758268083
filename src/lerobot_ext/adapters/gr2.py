"""Fourier GR2 humanoid: 45-D state, 37-D action (35-D in later SDK versions)."""

from __future__ import annotations

from lerobot_ext.adapters.robocasa import _table
from lerobot_ext.layout import ACTION_KEY, STATE_KEY, DatasetDescription, Group
from lerobot_ext.robot_adapter import RobotAdapter

ARM_JOINTS = (
    "shoulder_pitch",
    "shoulder_roll",
    "shoulder_yaw",
    "elbow_pitch",
    "wrist_yaw",
    "wrist_pitch",
    "wrist_roll",
)
HAND_JOINTS = ("thumb_bend", "thumb_rotation", "index", "middle", "ring", "pinky")

STATE_45 = _table(
    [
        ("left_arm", 7),
        ("right_arm", 7),
        ("head", 2),
        ("waist_yaw", 1),
        ("left_hand", 6),
        ("right_hand", 6),
        ("base_pos", 3),
        ("base_quat", 4),
        ("base_rpy", 3),
        ("imu_acc", 3),
        ("imu_omega", 3),
    ]
)
ACTION_37 = _table(
    [
        ("left_arm", 7),
        ("right_arm", 7),
        ("left_hand", 6),
        ("right_hand", 6),
        ("head", 2),
        ("waist", 3),
        ("base_velocity", 6),
    ]
)
# Later SDKs drive the waist's yaw only.
ACTION_35 = _table(
    [
        ("left_arm", 7),
        ("right_arm", 7),
        ("left_hand", 6),
        ("right_hand", 6),
        ("head", 2),
        ("waist_yaw", 1),
        ("base_velocity", 6),
    ]
)


def _arm(side: str) -> list[str]:
    return [f"{side}_{joint}_joint" for joint in ARM_JOINTS]


def _hand(side: str) -> list[str]:
    return [f"{side}_hand_{joint}_joint" for joint in HAND_JOINTS]


def state_names() -> list[str]:
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


def action_names(width: int = 37) -> list[str]:
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


class FourierGR2Adapter(RobotAdapter):
    name = "fourier_gr2"
    description = "Fourier GR2 humanoid: 45-D state (joints, base pose, IMU), 37-D or 35-D action"
    robot_types = ("fourier_gr2", "gr2", "GR2")

    def state_groups(self, dataset: DatasetDescription) -> list[Group] | None:
        return STATE_45 if dataset.width(STATE_KEY) == 45 else None

    def action_groups(self, dataset: DatasetDescription) -> list[Group] | None:
        return {37: ACTION_37, 35: ACTION_35}.get(dataset.width(ACTION_KEY) or 0)

    def notes(self, dataset: DatasetDescription) -> list[str]:
        width = dataset.width(ACTION_KEY)
        notes = []
        if width == 37:
            notes.append("action: 37-D (waist yaw, roll, pitch)")
        elif width == 35:
            notes.append("action: 35-D variant (the SDK drives waist_yaw only)")
        elif width is not None:
            notes.append(f"action is {width}-D; this adapter knows 37-D and 35-D GR2 actions")
        if dataset.width(STATE_KEY) not in (45, None):
            notes.append(f"state is {dataset.width(STATE_KEY)}-D; this adapter knows the 45-D GR2 state")
        return notes
