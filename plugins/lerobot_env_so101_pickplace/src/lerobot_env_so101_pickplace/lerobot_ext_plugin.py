"""lerobot-ext plugin of the env package: ``lerobot-ext demo-dataset --layout so101_pickplace``,
and a training run whose in-training evaluation would use demonstration start states refused
before its first step.

Implements the ``register_demo_layouts`` hook the ``demo`` plugin adds (optional: the package
also works with stock LeRobot alone).
"""

from typing import Any

import pluggy

from . import upstream_names

hookimpl = pluggy.HookimplMarker("lerobot_ext")


@hookimpl
def register_upstream_names(register):
    upstream_names.declare(register)


@hookimpl(optionalhook=True)
def register_demo_layouts(register):
    from . import demonstrations

    register(
        "so101_pickplace",
        demonstrations.write,
        "SO-101 pick-and-place (MuJoCo): scripted-expert demonstrations with DART noise, successful episodes only",
    )
    register(
        "so101_pickplace_offset",
        demonstrations.write_offset,
        "so101_pickplace with the block's offset from the grasp point in observation.environment_state "
        "(9-D): evaluate with --env.observe_offset=true",
    )
    register(
        "so101_pickplace_centring",
        demonstrations.write_centring,
        "so101_pickplace with an expert that descends onto the block only over its centre, and re-centres "
        "when pushed off it",
    )


@hookimpl
def configure(cfg: Any) -> None:
    """In-training evaluation seeds episode i with ``--seed + i``, a whole batch of
    ``--eval.batch_size`` envs at a time (the last batch too, when it is not full): refuse, before
    training, a run whose evaluation would reach the demonstrations' start states (the env would
    refuse them at the first evaluation, after the training time was spent)."""
    from .configuration_so101_pickplace import SO101PickPlaceEnvConfig
    from .env import EVAL_SEEDS_BELOW
    from .errors import EvaluationSeedError

    if not isinstance(getattr(cfg, "env", None), SO101PickPlaceEnvConfig):
        return
    if cfg.env_eval_freq <= 0 or cfg.seed is None:
        return
    envs = max(cfg.eval.batch_size, 1)
    seeds = -(-cfg.eval.n_episodes // envs) * envs  # lerobot's eval_policy seeds every env of every batch
    if cfg.seed + seeds > EVAL_SEEDS_BELOW:
        raise EvaluationSeedError(
            f"--seed={cfg.seed} with --env.type=so101_pickplace: in-training evaluation would start "
            f"episodes from seeds {cfg.seed}..{cfg.seed + seeds - 1}, and seeds >= {EVAL_SEEDS_BELOW:,} "
            f"are the demonstrations' start states; use a --seed of at most {EVAL_SEEDS_BELOW - seeds:,}"
        )


@hookimpl
def env_policy_features(policy_cfg: Any, env_features: dict, checkpoint: Any, run: Any) -> None:
    """Refuse, in one line, a checkpoint whose environment state is not the one this env gives: a
    policy trained on ``so101_pickplace_offset`` demonstrations needs ``--env.observe_offset=true``,
    one trained on the others the default (upstream would fail later, in a matrix product)."""
    if run.flags.get("env.type") != "so101_pickplace":
        return None
    from lerobot.utils.constants import OBS_ENV_STATE

    from .env import ENV_STATE_DIM
    from .errors import ObservationMismatchError

    trained = (getattr(policy_cfg, "input_features", None) or {}).get(OBS_ENV_STATE)
    given = env_features.get(OBS_ENV_STATE)
    if trained is None or given is None or tuple(trained.shape) == tuple(given.shape):
        return None
    observe = {ENV_STATE_DIM: "false", ENV_STATE_DIM + 3: "true"}.get(trained.shape[0])
    fix = (
        f"evaluate it with --env.observe_offset={observe}"
        if observe
        else "it was not trained on this task's observations"
    )
    raise ObservationMismatchError(
        f"so101_pickplace: the checkpoint takes a {trained.shape[0]}-D {OBS_ENV_STATE}, the env gives "
        f"{given.shape[0]}-D; {fix}"
    )
