"""Every upstream name this env package is built from (lerobot and the `lerobot_env_so101` task).

`lerobot-ext doctor` checks each one when lerobot-ext is installed; it does not import lerobot_ext,
so the package still works with stock LeRobot alone.
"""

import pluggy

hookimpl = pluggy.HookimplMarker("lerobot_ext")

UPSTREAM_NAMES = (
    ("lerobot.envs.configs.EnvConfig", "the env config's base class (registered as so101_pickplace)"),
    ("lerobot.envs.configs.EnvConfig.create_envs", "the env type builds its own vector env"),
    ("lerobot.configs.FeatureType", "the features the env declares"),
    ("lerobot.configs.PolicyFeature", "the features the env declares"),
    ("lerobot.utils.constants.ACTION", "the env's action key"),
    ("lerobot.utils.constants.OBS_STATE", "the env's state observation key"),
    ("lerobot.utils.constants.OBS_ENV_STATE", "the env's object-state observation key"),
    ("lerobot_env_so101.pick_place_env.SO101PickPlaceGymEnv", "the pick-and-place task"),
    ("lerobot_env_so101.mujoco_env.GymRenderingSpec", "the task's camera rendering settings"),
    ("lerobot_env_so101.policy.DEFAULT_ACTION_SCALE", "the task's action scale"),
    ("lerobot_env_so101.scripted.pick_place.PickPlaceController", "the scripted expert"),
)


@hookimpl
def register_upstream_names(register):
    """Contract: `register(path: str, why: str) -> None`."""
    for path, why in UPSTREAM_NAMES:
        register(path, why)
