"""A dataset with two modes: the same observation is followed by one of two different actions.

Half of the episodes move to +0.8, half to -0.8, from identical observations. A policy that
regresses to the mean answers 0 (neither mode); a generative policy should sample both.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lerobot_ext import vector_feature, write_dataset
from lerobot_ext.demo.drawing import Frame

FPS = 10
MODE = 0.8


def features() -> dict:
    return {
        "observation.state": vector_feature(["x", "y"], 2),
        # Two dims: LeRobot stores one-dim features as scalars, which would lose the feature axis.
        "observation.environment_state": vector_feature(["goal_x_known", "goal_y_known"], 2),
        "action": vector_feature(["vx", "vy"], 2),
    }


def episode(rng: np.random.Generator, frames: int, sign: float) -> list[Frame]:
    noise = rng.normal(0.0, 0.02, (frames, 2))
    return [
        {
            "observation.state": np.zeros(2, dtype=np.float32),
            "observation.environment_state": np.zeros(2, dtype=np.float32),
            "action": (np.full(2, sign * MODE) + noise[i]).astype(np.float32),
        }
        for i in range(frames)
    ]


def write(root: Path, episodes: int, frames: int, seed: int, overwrite: bool) -> Path:
    rng = np.random.default_rng(seed)
    signs = [1.0 if i % 2 == 0 else -1.0 for i in range(episodes)]
    return write_dataset(
        root,
        repo_id="lerobot_ext_demo/bimodal",
        fps=FPS,
        robot_type="point_mass",
        features=features(),
        episodes=(episode(rng, frames, sign) for sign in signs),
        task="go to either goal",
        overwrite=overwrite,
    )
