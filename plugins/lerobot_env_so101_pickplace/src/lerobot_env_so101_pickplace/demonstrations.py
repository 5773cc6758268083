"""Scripted-expert demonstrations of the pick-and-place task, written with lerobot's own writer.

The expert is ``lerobot-env-so101``'s ``PickPlaceController``. As in DART, the motion the robot
executes is the expert's plus N(0, ``noise``) per end-effector axis, while the recorded action is
the expert's clean one: the data then shows how to recover from small deviations. Only episodes
that succeed are kept. Start states are seeded from ``EVAL_SEEDS_BELOW`` up, never the seeds
lerobot-eval uses.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .env import EPISODE_LENGTH, EVAL_SEEDS_BELOW, TASK, PickPlaceEnv

FPS = 10
STATE_NAMES = [
    *(f"joint{i}_pos" for i in range(5)),
    *(f"joint{i}_vel" for i in range(5)),
    "gripper_opening",
    "ee_x",
    "ee_y",
    "ee_z",
]
ENV_STATE_NAMES = ["block_x", "block_y", "block_z", "goal_x", "goal_y", "goal_z"]
#: With ``observe_offset`` (``so101_pickplace_offset``): the block's position minus the grasp point's.
OFFSET_NAMES = ["block_from_grasp_x", "block_from_grasp_y", "block_from_grasp_z"]
ACTION_NAMES = ["dx", "dy", "dz", "gripper"]
#: The DART noise (standard deviation, action units) when none is asked for: 0.2 halves the success
#: of a policy trained on the demonstrations (BENCHMARKS.md section 7).
DEFAULT_NOISE = 0.1
#: The centring expert (``so101_pickplace_centring``) descends only within this horizontal distance of
#: the block's centre (above the executed noise's typical 3.5 mm a step at the default noise).
CENTRE_TOLERANCE_M = 0.005
#: And where its descent starts, the executed motion is pushed off centre by N(0, this) per
#: horizontal axis, once, so that its demonstrations show the re-centring.
DESCENT_PUSH_M = 0.01
SEEDS_PER_DATASET_SEED = 100_000  # start states per --seed: datasets of different seeds never share one
MAX_EPISODES = (SEEDS_PER_DATASET_SEED - 10) // 3  # so that max_attempts() stays within one seed's range


def max_attempts(episodes: int) -> int:
    """Attempts allowed for ``episodes`` successes (the expert fails about 1 in 10)."""
    return 3 * episodes + 10


def features(observe_offset: bool = False) -> dict[str, dict[str, Any]]:
    env_names = ENV_STATE_NAMES + (OFFSET_NAMES if observe_offset else [])
    return {
        "observation.state": {"dtype": "float32", "shape": (14,), "names": STATE_NAMES},
        "observation.environment_state": {"dtype": "float32", "shape": (len(env_names),), "names": env_names},
        "action": {"dtype": "float32", "shape": (4,), "names": ACTION_NAMES},
    }


def centring_expert(action_scale: float) -> Any:
    """``lerobot-env-so101``'s ``PickPlaceController``, except that it descends onto the block only
    while over its centre (within ``CENTRE_TOLERANCE_M``): off it, it holds its height and moves
    over the centre first. The plain expert corrects sideways while it descends, so its
    demonstrations never show the check a policy that lands a jaw on the block skips."""
    from lerobot_env_so101.scripted.pick_place import Phase, PickPlaceController

    class CentringController(PickPlaceController):
        def act(self, grasp_pos: np.ndarray, block_pos: np.ndarray, goal_pos: np.ndarray) -> np.ndarray:
            action = super().act(grasp_pos, block_pos, goal_pos)
            offset = np.linalg.norm(np.asarray(block_pos[:2]) - np.asarray(grasp_pos[:2]))
            if self.phase is Phase.DESCEND and offset > CENTRE_TOLERANCE_M:
                action[2] = max(float(action[2]), 0.0)
            return action

    return CentringController(action_scale=action_scale)


def demonstration(
    env: PickPlaceEnv, seed: int, noise: float, rng: np.random.Generator, centring: bool = False
) -> tuple[list[dict], bool]:
    """One episode of the expert (the centring one if ``centring``) from the start state of
    ``seed``: (frames, succeeded)."""
    from lerobot_env_so101.scripted.pick_place import Phase, PickPlaceController

    task = env.sim
    expert = (
        centring_expert(env.action_scale) if centring else PickPlaceController(action_scale=env.action_scale)
    )
    observation, _ = env.reset(seed=seed)
    frames, success, pushed = [], False, False
    for _ in range(EPISODE_LENGTH):
        state = observation["environment_state"]
        clean = expert.act(task.ik_point_pos, state[:3], state[3:6])
        executed = clean.copy()
        executed[:3] += rng.normal(0.0, noise, 3).astype(np.float32)
        if centring and not pushed and expert.phase is Phase.DESCEND:
            executed[:2] += rng.normal(0.0, DESCENT_PUSH_M / env.action_scale, 2).astype(np.float32)
            pushed = True
        frames.append(
            {
                "observation.state": observation["agent_pos"].astype(np.float32),
                "observation.environment_state": state.astype(np.float32),
                "action": clean.astype(np.float32),
            }
        )
        observation, _, terminated, truncated, info = env.step(executed)
        success = bool(info["is_success"])
        if terminated or truncated:
            break
    return frames, success


def successful_episodes(
    episodes: int,
    seed: int,
    noise: float,
    counts: dict[str, int],
    centring: bool = False,
    observe_offset: bool = False,
) -> Iterator[list[dict]]:
    """``episodes`` successful demonstrations; failed attempts are dropped (and counted)."""
    from tqdm import tqdm

    env = PickPlaceEnv(render=False, evaluation=False, observe_offset=observe_offset)
    rng = np.random.default_rng(seed)
    base = EVAL_SEEDS_BELOW + seed * SEEDS_PER_DATASET_SEED
    kept = attempts = 0
    with tqdm(total=episodes, desc="scripted expert", unit="episode") as bar:
        while kept < episodes:
            if attempts >= max_attempts(episodes):
                raise RuntimeError(f"the scripted expert succeeded in only {kept} of {attempts} attempts")
            frames, success = demonstration(env, base + attempts, noise, rng, centring)
            attempts += 1
            counts["attempts"] = attempts
            if success:
                kept += 1
                bar.update(1)
                yield frames
    env.close()


def check(episodes: int, seed: int, noise: float) -> None:
    """Refuse values the writer cannot honour, before anything is written."""
    from lerobot_ext import ConfigError

    if not isinstance(episodes, int) or not 1 <= episodes <= MAX_EPISODES:
        raise ConfigError(
            f"--episodes {episodes}: the so101_pickplace layout writes 1 to {MAX_EPISODES:,} successful "
            "episodes per dataset, e.g. --episodes 100"
        )
    if not isinstance(seed, int) or seed < 0:
        raise ConfigError(
            f"--seed {seed}: the so101_pickplace layout takes a seed >= 0 (its start states are "
            f"{EVAL_SEEDS_BELOW:,} + seed x {SEEDS_PER_DATASET_SEED:,} onwards), e.g. --seed 0"
        )
    if not noise >= 0:
        raise ConfigError(
            f"--noise {noise}: the DART noise is a standard deviation in action units, >= 0 (default {DEFAULT_NOISE:g}), "
            f"e.g. --noise {DEFAULT_NOISE:g}"
        )


def write(
    root: Path | str, episodes: int, seed: int = 0, overwrite: bool = False, noise: float = DEFAULT_NOISE
) -> Path:
    """Write ``episodes`` successful expert demonstrations to ``root``.

    The layout's whole interface (no ``**kwargs``): ``lerobot-ext demo-dataset`` flags the layout
    does not take - ``--frames``, ``--image-size`` - are refused, not silently ignored.
    """
    return _write(Path(root), episodes, seed, overwrite, noise)


def write_offset(
    root: Path | str, episodes: int, seed: int = 0, overwrite: bool = False, noise: float = DEFAULT_NOISE
) -> Path:
    """``write`` with the block's offset from the grasp point in ``observation.environment_state``
    (9-D, ``OFFSET_NAMES`` last): evaluate its policies with ``--env.observe_offset=true``."""
    return _write(Path(root), episodes, seed, overwrite, noise, observe_offset=True)


def write_centring(
    root: Path | str, episodes: int, seed: int = 0, overwrite: bool = False, noise: float = DEFAULT_NOISE
) -> Path:
    """``write`` with the centring expert (:func:`centring_expert`), pushed off centre once where
    each descent starts (``DESCENT_PUSH_M``)."""
    return _write(Path(root), episodes, seed, overwrite, noise, centring=True)


def _write(
    root: Path,
    episodes: int,
    seed: int,
    overwrite: bool,
    noise: float,
    centring: bool = False,
    observe_offset: bool = False,
) -> Path:
    from lerobot_ext import write_dataset

    check(episodes, seed, noise)
    counts = {"attempts": 0}
    written = write_dataset(
        root,
        repo_id="lerobot_ext_demo/so101_pickplace"
        + ("_centring" if centring else "_offset" if observe_offset else ""),
        fps=FPS,
        robot_type="so101",
        features=features(observe_offset),
        episodes=successful_episodes(episodes, seed, noise, counts, centring, observe_offset),
        task=TASK,
        overwrite=overwrite,
    )
    expert = (
        "centring expert"
        if centring
        else "scripted expert" + (" (offset observed)" if observe_offset else "")
    )
    print(f"{expert}: {episodes} successful episodes of {counts['attempts']} attempts kept (noise {noise})")
    return written
