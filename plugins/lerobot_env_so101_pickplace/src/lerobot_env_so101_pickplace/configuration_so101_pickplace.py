"""``@EnvConfig.register_subclass("so101_pickplace")``: the env type for lerobot-eval and training."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import gymnasium as gym
from lerobot.configs import FeatureType, PolicyFeature
from lerobot.envs.configs import EnvConfig
from lerobot.utils.constants import ACTION, OBS_ENV_STATE, OBS_STATE

from .env import ENV_STATE_DIM, EPISODE_LENGTH, make_env

AGENT_POS_DIM = 14  # 5 arm joint positions, 5 velocities, gripper opening, end-effector xyz
ACTION_DIM = 4  # dx, dy, dz, gripper (1 open, 0 closed)


@EnvConfig.register_subclass("so101_pickplace")
@dataclass
class SO101PickPlaceEnvConfig(EnvConfig):
    task: str | None = "SO101PickPlace-v0"
    fps: int = 10
    episode_length: int = EPISODE_LENGTH
    # Render real frames for lerobot-eval's videos (slow on a CPU); a placeholder otherwise.
    render: bool = False
    render_size: int = 128
    # The block's offset from the grasp point in environment_state too (9-D): for policies trained
    # on `lerobot-ext demo-dataset --layout so101_pickplace_offset`.
    observe_offset: bool = False
    features: dict[str, PolicyFeature] = field(
        default_factory=lambda: {
            ACTION: PolicyFeature(type=FeatureType.ACTION, shape=(ACTION_DIM,)),
            "agent_pos": PolicyFeature(type=FeatureType.STATE, shape=(AGENT_POS_DIM,)),
            "environment_state": PolicyFeature(type=FeatureType.ENV, shape=(ENV_STATE_DIM,)),
        }
    )
    features_map: dict[str, str] = field(
        default_factory=lambda: {ACTION: ACTION, "agent_pos": OBS_STATE, "environment_state": OBS_ENV_STATE}
    )

    def __post_init__(self) -> None:
        if self.observe_offset:
            self.features["environment_state"] = PolicyFeature(
                type=FeatureType.ENV, shape=(ENV_STATE_DIM + 3,)
            )

    @property
    def package_name(self) -> str:
        return "lerobot_env_so101_pickplace"

    @property
    def gym_kwargs(self) -> dict:
        return {
            "render": self.render,
            "render_size": self.render_size,
            "episode_length": self.episode_length,
            "observe_offset": self.observe_offset,
        }

    def create_envs(
        self, n_envs: int, use_async_envs: bool = False
    ) -> dict[str, dict[int, gym.vector.VectorEnv]]:
        """``n_envs`` environments in a vector env, built from a picklable factory, so subprocess
        envs (``--eval.use_async_envs=true``) need no gym registry entry."""
        factory = functools.partial(make_env, **self.gym_kwargs)
        vector = gym.vector.AsyncVectorEnv if (use_async_envs and n_envs > 1) else gym.vector.SyncVectorEnv
        kwargs: dict = {"context": "forkserver"} if vector is gym.vector.AsyncVectorEnv else {}
        try:
            from gymnasium.vector import AutoresetMode

            kwargs["autoreset_mode"] = AutoresetMode.SAME_STEP
        except ImportError:
            pass
        return {self.type: {0: vector([factory for _ in range(n_envs)], **kwargs)}}
