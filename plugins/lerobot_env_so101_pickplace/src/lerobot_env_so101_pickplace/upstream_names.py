"""Every upstream name this env package is built from (lerobot and the `lerobot_env_so101` task).

`lerobot-ext doctor` checks each one when lerobot-ext is installed; it does not import lerobot_ext,
so the package still works with stock LeRobot alone.
"""

UPSTREAM_NAMES = (
    ("lerobot.envs.configs.EnvConfig.create_envs", "the env type builds its own vector env"),
    (
        "lerobot.utils.constants.OBS_ENV_STATE",
        "a checkpoint's environment state is compared with the env's (--env.observe_offset)",
    ),
    (
        "lerobot_env_so101.scripted.pick_place.PickPlaceController.act",
        "the demonstrations' expert; the centring expert overrides it",
    ),
    (
        "lerobot_env_so101.scripted.pick_place.Phase.DESCEND",
        "the centring expert holds its descent off centre",
    ),
)


def declare(register):
    """Declare the names (``register_upstream_names``'s ``register``)."""
    """Contract: `register(path: str, why: str) -> None`."""
    for path, why in UPSTREAM_NAMES:
        register(path, why)
