"""lerobot-ext plugin of the env package: ``lerobot-ext demo-dataset --layout so101_pickplace``.

Implements the ``register_demo_layouts`` hook the ``demo`` plugin adds (optional: the package
also works with stock LeRobot alone).
"""

import pluggy

hookimpl = pluggy.HookimplMarker("lerobot_ext")


@hookimpl(optionalhook=True)
def register_demo_layouts(register):
    from . import demonstrations

    register(
        "so101_pickplace",
        demonstrations.write,
        "SO-101 pick-and-place (MuJoCo): scripted-expert demonstrations with DART noise, successful episodes only",
    )


@hookimpl
def register_upstream_names(register):
    for path, why in (
        ("lerobot.envs.configs.EnvConfig.create_envs", "the env type builds its own vector env"),
        ("lerobot_env_so101.pick_place_env.SO101PickPlaceGymEnv", "the pick-and-place task"),
        ("lerobot_env_so101.scripted.pick_place.PickPlaceController", "the scripted expert"),
    ):
        register(path, why)
