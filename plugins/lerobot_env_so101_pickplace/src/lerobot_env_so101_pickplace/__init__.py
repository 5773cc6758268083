"""``--env.type=so101_pickplace``: the SO-101 pick-and-place task of ``lerobot-env-so101``, made
evaluable by ``lerobot-eval`` and in-training evaluation.

Importing this package registers the env type with LeRobot's ``EnvConfig`` (lerobot's
``register_third_party_plugins()`` does it for installed distributions named ``lerobot_env_*``).
"""

from .headless_gl import default_to_egl

# Before anything imports mujoco: its OpenGL backend is chosen then (see headless_gl).
default_to_egl()

from .configuration_so101_pickplace import SO101PickPlaceEnvConfig  # noqa: E402
from .env import EVAL_SEEDS_BELOW, PickPlaceEnv, make_env  # noqa: E402

__all__ = [
    "EVAL_SEEDS_BELOW",
    "EvaluationSeedError",
    "PickPlaceEnv",
    "RenderingUnavailableError",
    "SO101PickPlaceEnvConfig",
    "make_env",
]


def __getattr__(name: str) -> object:
    # The errors are made on first use (see errors.py): importing the package imports no lerobot-ext.
    from . import errors

    if name in errors.__all__:
        return getattr(errors, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
