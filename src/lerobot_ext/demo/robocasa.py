"""A small RoboCasa-like dataset: PandaOmron, 53-D GR00T state, 12-D action, three cameras.

The task can be learned: each episode has a target the end effector must reach. The target is
visible only in the cameras, the end effector's pose only in the state, and the action is a
feedback law on both - so a policy's loss falls as it learns to read the images and the state.
Base motion (and the control mode) never change, exactly like single-arm RoboCasa demos.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lerobot_ext import ROBOCASA_ACTION_BASE_FIRST as ACTION_BASE_FIRST
from lerobot_ext import ROBOCASA_ACTION_EE_FIRST as ACTION_EE_FIRST
from lerobot_ext import ROBOCASA_STATE_53 as STATE_53
from lerobot_ext import ROBOSUITE_TO_GR00T, vector_feature, video_feature, write_dataset
from lerobot_ext.demo.drawing import Frame, background, draw_square

CAMERAS = ("robot0_agentview_left", "robot0_agentview_right", "robot0_eye_in_hand")
FPS = 20
CONTROL_MODE_ARM = -1.0  # robosuite's mobile-base mode flag when only the arm moves


def _quat_from_rotvec(rotvec: np.ndarray) -> np.ndarray:
    angle = float(np.linalg.norm(rotvec))
    if angle < 1e-9:
        return np.array([1.0, 0.0, 0.0, 0.0])
    axis = rotvec / angle
    return np.concatenate([[np.cos(angle / 2)], np.sin(angle / 2) * axis])


def state_names() -> list[str]:
    return [f"{group.name}_{i}" for group in STATE_53 for i in range(group.size)]


def action_names(order: str) -> list[str]:
    table = ACTION_EE_FIRST if order == "ee-first" else ACTION_BASE_FIRST
    return [
        f"{group.name}_{i}" if group.size > 1 else group.name for group in table for i in range(group.size)
    ]


def modality(order: str) -> dict:
    table = ACTION_EE_FIRST if order == "ee-first" else ACTION_BASE_FIRST
    return {
        "state": {
            ROBOSUITE_TO_GR00T[g.name]: {"start": g.start, "end": g.stop, "original_key": "observation.state"}
            for g in STATE_53
        },
        "action": {g.name: {"start": g.start, "end": g.stop, "original_key": "action"} for g in table},
        "video": {cam: {"original_key": f"observation.images.{cam}"} for cam in CAMERAS},
        "annotation": {"human.task_description": {"original_key": "task_index"}},
    }


def features(image_size: int, order: str) -> dict:
    feats = {
        "observation.state": vector_feature(state_names(), 53),
        "action": vector_feature(action_names(order), 12),
    }
    for cam in CAMERAS:
        feats[f"observation.images.{cam}"] = video_feature(image_size, image_size)
    return feats


def episode(rng: np.random.Generator, frames: int, image_size: int, order: str) -> list[Frame]:
    base_pos = rng.uniform(-1.0, 1.0, 3) * np.array([1.0, 1.0, 0.0])
    base_quat = _quat_from_rotvec(np.array([0.0, 0.0, rng.uniform(-np.pi, np.pi)]))
    target = rng.uniform(-0.6, 0.6, 3)
    eef = rng.uniform(-0.6, 0.6, 3)
    rot = rng.uniform(-0.5, 0.5, 3)
    gripper = 0.04
    # A fixed linear "inverse kinematics" so the joints move with the end effector.
    ik = np.random.default_rng(7).normal(0.0, 0.6, (7, 6))
    joints = ik @ np.concatenate([eef, rot])
    gripper_vel = 0.0
    out = []
    for _ in range(frames):
        to_target = target - eef
        ee_action = np.clip(2.5 * to_target, -1, 1)
        rot_action = np.clip(-1.5 * rot, -1, 1)
        grip_action = 1.0 if np.linalg.norm(to_target) < 0.15 else -1.0
        arm = np.concatenate([ee_action, rot_action, [grip_action]])
        base = np.array([0.0, 0.0, 0.0, 0.0, CONTROL_MODE_ARM])
        action = (
            np.concatenate([arm, base[:4], base[4:]]) if order == "ee-first" else np.concatenate([base, arm])
        )
        eef_quat = _quat_from_rotvec(rot)
        new_joints = ik @ np.concatenate([eef, rot])
        joint_vel = (new_joints - joints) * FPS
        joints = new_joints
        state = np.concatenate(
            [
                base_pos,
                base_quat,
                base_pos + eef,
                eef,
                eef_quat,
                eef_quat,
                [gripper, -gripper],
                [gripper_vel, -gripper_vel],
                joints,
                np.cos(joints),
                np.sin(joints),
                joint_vel,
            ]
        )
        frame: Frame = {"observation.state": state.astype(np.float32), "action": action.astype(np.float32)}
        views = {
            "robot0_agentview_left": ((target[0], target[1]), (eef[0], eef[1]), (40, 40, 90)),
            "robot0_agentview_right": ((target[1], target[2]), (eef[1], eef[2]), (90, 40, 40)),
            "robot0_eye_in_hand": ((to_target[0], to_target[1]), None, (40, 90, 40)),
        }
        for cam, (goal, hand, tint) in views.items():
            image = background(image_size, image_size, tint).copy()
            draw_square(image, *np.clip(goal, -1, 1), color=(255, 220, 0))
            if hand is not None:
                draw_square(image, *np.clip(hand, -1, 1), color=(0, 200, 255), half=1)
            frame[f"observation.images.{cam}"] = image
        out.append(frame)
        # Integrate the commanded motion (with a little actuation noise).
        eef = eef + 0.06 * ee_action + rng.normal(0, 0.003, 3)
        rot = rot + 0.06 * rot_action
        new_gripper = 0.0 if grip_action > 0 else 0.04
        gripper_vel = (new_gripper - gripper) * FPS
        gripper = new_gripper
    return out


def write(
    root: Path, episodes: int, frames: int, image_size: int, seed: int, action_order: str, overwrite: bool
) -> Path:
    rng = np.random.default_rng(seed)
    return write_dataset(
        root,
        repo_id="lerobot_ext_demo/robocasa_pnp",
        fps=FPS,
        robot_type="PandaOmron",
        features=features(image_size, action_order),
        episodes=(episode(rng, frames, image_size, action_order) for _ in range(episodes)),
        task="pick the object and place it in the microwave",
        modality=modality(action_order),
        overwrite=overwrite,
    )
