"""A small Fourier GR2 dataset: 45-D state, 37-D action with per-dim joint names, one camera
(and, with ``depth=True``, the head camera's depth video, as GR2 recordings have).

Each episode has a target posture for the arms and hands, shown in the camera as bar heights;
the action moves the joints toward it from the current state. The base does not move (its
velocity dims are constant zero), the IMU only shows small noise.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lerobot_ext import gr2_action_names as action_names
from lerobot_ext import gr2_state_names as state_names
from lerobot_ext import vector_feature, video_feature, write_dataset
from lerobot_ext.demo.drawing import Frame, background

FPS = 30
CAMERA = "camera_top"
DEPTH_CAMERA = "camera_top_depth"
# State index of each action dim (arms, hands, head, waist yaw); waist roll/pitch are not sensed.
_ARMS_HANDS = list(range(0, 14)) + list(range(17, 29))


def features(image_size: int, depth: bool = False) -> dict:
    out = {
        "observation.state": vector_feature({"motors": state_names()}, 45),
        "action": vector_feature({"motors": action_names(37)}, 37),
        f"observation.images.{CAMERA}": video_feature(image_size, image_size),
    }
    if depth:
        out[f"observation.images.{DEPTH_CAMERA}"] = {
            "dtype": "video",
            "shape": (image_size, image_size, 1),
            "names": ["height", "width", "channels"],
            "info": {"is_depth_map": True},
        }
    return out


def depth_image(rng: np.random.Generator, base_distance_mm: float, image_size: int) -> np.ndarray:
    """A depth map in millimetres (uint16): a tilted floor plus noise, as a head camera sees it."""
    rows = np.linspace(600.0, 2400.0, image_size)[:, None]
    depth = base_distance_mm + rows + rng.normal(0.0, 15.0, (image_size, image_size))
    return np.clip(depth, 200, 4000).astype(np.uint16)[:, :, None]


def episode(rng: np.random.Generator, frames: int, image_size: int, depth: bool = False) -> list[Frame]:
    joints = rng.uniform(-0.5, 0.5, 26)  # arms (14) + hands (12)
    goal = rng.uniform(-0.8, 0.8, 26)
    head = rng.uniform(-0.2, 0.2, 2)
    waist_yaw = rng.uniform(-0.2, 0.2)
    base_pos = np.array([rng.uniform(-1, 1), rng.uniform(-1, 1), 0.9])
    base_quat = np.array([1.0, 0.0, 0.0, 0.0])
    out = []
    for _ in range(frames):
        command = joints + np.clip(1.5 * (goal - joints), -0.3, 0.3)
        imu_acc = np.array([0.0, 0.0, 9.81]) + rng.normal(0, 0.02, 3)
        imu_omega = rng.normal(0, 0.01, 3)
        state = np.concatenate(
            [
                joints[:14],
                head,
                [waist_yaw],
                joints[14:],
                base_pos,
                base_quat,
                np.zeros(3),
                imu_acc,
                imu_omega,
            ]
        )
        action = np.concatenate(
            [command[:14], command[14:26], -0.5 * head, [-0.5 * waist_yaw, 0.0, 0.0], np.zeros(6)]
        )
        image = background(image_size, image_size, (60, 60, 60)).copy()
        # One bar per arm/hand joint goal: its height encodes the goal angle.
        bar_width = max(1, image_size // 26)
        for j, value in enumerate(goal):
            height = int((value + 1) / 2 * (image_size - 1))
            image[image_size - height :, j * bar_width : (j + 1) * bar_width] = (255, 255 - 8 * j % 255, 0)
        frame = {
            "observation.state": state.astype(np.float32),
            "action": action.astype(np.float32),
            f"observation.images.{CAMERA}": image,
        }
        if depth:
            frame[f"observation.images.{DEPTH_CAMERA}"] = depth_image(
                rng, 300.0 * float(base_pos[0]), image_size
            )
        out.append(frame)
        joints = joints + 0.5 * (command - joints) + rng.normal(0, 0.002, 26)
        head = head * 0.9
        waist_yaw *= 0.9
    return out


def write(
    root: Path, episodes: int, frames: int, image_size: int, seed: int, overwrite: bool, depth: bool = False
) -> Path:
    rng = np.random.default_rng(seed)
    return write_dataset(
        root,
        repo_id="lerobot_ext_demo/fourier_gr2",
        fps=FPS,
        robot_type="fourier_gr2",
        features=features(image_size, depth),
        episodes=(episode(rng, frames, image_size, depth) for _ in range(episodes)),
        task="pick up the box and place it on the table",
        overwrite=overwrite,
    )
