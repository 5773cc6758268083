"""Fourier GR2 humanoid: 45-D state, 37-D action (35-D in later SDK versions)."""

from __future__ import annotations

from lerobot_ext import (
    ACTION_KEY,
    STATE_KEY,
    DatasetDescription,
    Group,
    RobotAdapter,
    gr2_action_names,
    gr2_state_names,
    group_table,
)

# The per-dim names GR2 recordings use.
state_names = gr2_state_names
action_names = gr2_action_names

STATE_45 = group_table(
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
ACTION_37 = group_table(
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
ACTION_35 = group_table(
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
