"""``--env.type=so101_pickplace``: the SO-101 pick-and-place task of ``lerobot-env-so101``, made
evaluable by ``lerobot-eval`` and in-training evaluation.

Importing this package registers the env type with LeRobot's ``EnvConfig`` (lerobot's
``register_third_party_plugins()`` does it for installed distributions named ``lerobot_env_*``).
"""

from .configuration_so101_pickplace import SO101PickPlaceEnvConfig
from .env import EVAL_SEEDS_BELOW, PickPlaceEnv, make_env

__all__ = ["EVAL_SEEDS_BELOW", "PickPlaceEnv", "SO101PickPlaceEnvConfig", "make_env"]
