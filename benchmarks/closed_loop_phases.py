"""Where a policy fails in the SO-101 pick-and-place task: how far each episode gets.

Runs saved checkpoints in the simulator on the evaluation start states ``lerobot-eval`` uses
(``--seed`` 1000 + episode; the policy's sampling noise is seeded with it too), as a robot would
run them (``lerobot_ext.load_policy``: the saved pre/post-processors, a full observation in, a
full action out), and records for every episode the furthest phase it reached:

- ``reach``: the grasp point between the jaws came within 2.5 cm of the block's centre (or the
  block was lifted);
- ``lift``: the block rose 3 cm above its start (the task's own "carried" rule);
- ``at goal``: the block, after a lift, was within 3 cm of the goal (the task's place distance);
- ``success``: the task's own success (carried, at the goal, released, at rest).

The table gives each phase's share of episodes, and the failures by the last phase reached: never
reached, reached but never lifted (the grasp), lifted but never at the goal (carried or dropped),
at the goal but no success (the release or the block's rest).

It also records where the jaws were when the policy first commanded them shut (the gripper action
below 0.5): the grasp point's height above the block's centre and its horizontal distance from it.
The scripted expert closes only at its grasp height (``GRASP_HEIGHT``, 1.5 cm) within 4 mm; the
report splits the episodes by a close more than 0.5 cm above that height (the jaws shut on the
block's top edge or above it) and gives each group's success, and splits them again by the
horizontal offset at that close (an open jaw landing on the block stops the descent early), and
counts the closes with a jaw pad touching the block's top face (MuJoCo's contacts).

``--n_action_steps N`` executes N actions of each chunk instead of the checkpoint's own number (as
``lerobot-eval-ext --policy.n_action_steps=N``), to see how the failures move with it.

``--oracle_centring`` is an experiment, not an evaluation: while the jaws are open over a block
not yet lifted (the grasp point within ``ORACLE_REACH_M`` of it horizontally and below the expert's
hover height), the horizontal part of every executed action is the scripted expert's - move over
the block's centre at its careful speed - and the policy keeps the rest: when and how far to
descend, when to close, everything after. Its success against the same checkpoints without it
(the same start states and sampling noise) bounds what a policy that centres as the expert does
would gain.

    python benchmarks/closed_loop_phases.py CHECKPOINT [CHECKPOINT ...] [--episodes 50] [--seed 1000]
                                            [--n_action_steps N] [--oracle_centring]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

OFFSET_BINS_CM = ((0.0, 0.5), (0.5, 1.0), (1.0, 1.5), (1.5, 100.0))
HIGH_CLOSE_M = 0.005
TOP_FACE_TOLERANCE_M = 0.002  # above the expert's grasp height: more than its 4 mm tolerance
REACH_M = 0.025
LIFT_M = 0.03  # the task's _MIN_CARRY_RISE
GOAL_M = 0.03  # the task's PLACE_SUCCESS_DISTANCE
PHASES = ("reach", "lift", "at goal", "success")
ORACLE_REACH_M = 0.05  # --oracle_centring takes over this close to the block (horizontally)
TASK = "pick up the cube and place it on the goal"  # what the env tells lerobot-eval


@dataclass
class Episode:
    reached: bool = False
    lifted: bool = False
    at_goal: bool = False
    success: bool = False
    # Where the grasp point was, relative to the block's centre, when the jaws were first commanded shut.
    close_height_m: float | None = None
    close_offset_m: float | None = None
    # At that command: a jaw touching the block's top face (it then holds the descent up).
    jaw_on_top: bool = False

    @property
    def furthest(self) -> str:
        flags = (self.reached, self.lifted, self.at_goal, self.success)
        return next((PHASES[i] for i in range(3, -1, -1) if flags[i]), "none")


def jaw_on_top_face(sim: object, block_z: float) -> bool:
    """Whether a contact between the block and a jaw lies on the block's top face (MuJoCo's
    contact list of the task's model; the top face is the block geom's half-size above its centre)."""
    import mujoco

    model, data = sim.model, sim.data
    block = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, "block")
    half_height = float(model.geom_size[block][2])
    for contact in data.contact[: data.ncon]:
        if block not in (contact.geom1, contact.geom2):
            continue
        other = contact.geom2 if contact.geom1 == block else contact.geom1
        name = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_GEOM, other) or ""
        if "jaw" in name and contact.pos[2] - block_z > half_height - TOP_FACE_TOLERANCE_M:
            return True
    return False


def centre(executed: np.ndarray, grasp: np.ndarray, block: np.ndarray, start_z: float, scale: float) -> None:
    """``--oracle_centring``: replace the action's horizontal part with the expert's centring move,
    in place, while the open jaws are over the block."""
    from lerobot_env_so101.scripted.pick_place import CAREFUL_SPEED, GRASP_HEIGHT, HOVER_HEIGHT

    offset = block[:2] - grasp[:2]
    over = np.linalg.norm(offset) < ORACLE_REACH_M and grasp[2] - start_z < GRASP_HEIGHT + HOVER_HEIGHT
    if executed[3] >= 0.5 and over:
        executed[:2] = np.clip(offset / scale, -CAREFUL_SPEED, CAREFUL_SPEED)


def run_episode(
    policy: object, pre: object, post: object, seed: int, oracle_centring: bool = False
) -> Episode:
    import torch
    from lerobot.utils.constants import OBS_ENV_STATE
    from lerobot_env_so101_pickplace import make_env
    from lerobot_env_so101_pickplace.env import ENV_STATE_DIM

    # A policy trained on so101_pickplace_offset demonstrations observes the block's offset too.
    env = make_env(observe_offset=policy.config.input_features[OBS_ENV_STATE].shape[0] > ENV_STATE_DIM)
    observation, _ = env.reset(seed=seed)
    sim = env.unwrapped
    policy.reset()
    # The policy's sampling noise too: the same command gives the same episodes.
    torch.manual_seed(seed)
    start_z = float(observation["environment_state"][2])
    episode = Episode()
    done = False
    while not done:
        batch = {
            "observation.state": torch.from_numpy(np.asarray(observation["agent_pos"], np.float32))[None],
            "observation.environment_state": torch.from_numpy(
                np.asarray(observation["environment_state"], np.float32)
            )[None],
            "task": [TASK],
        }
        with torch.no_grad():
            action = post(policy.select_action(pre(batch)))
        executed = np.asarray(action[0].cpu(), np.float32)
        if oracle_centring and not episode.lifted:
            block_now = np.asarray(observation["environment_state"][:3], np.float64)
            centre(executed, np.asarray(sim.ik_point_pos), block_now, start_z, env.env.action_scale)
        if episode.close_height_m is None and executed[3] < 0.5:
            grasp, block_now = np.asarray(sim.ik_point_pos), observation["environment_state"][:3]
            episode.close_height_m = float(grasp[2] - block_now[2])
            episode.close_offset_m = float(np.linalg.norm(grasp[:2] - block_now[:2]))
            episode.jaw_on_top = jaw_on_top_face(sim, float(block_now[2]))
        observation, _, terminated, truncated, info = env.step(executed)
        block, goal = observation["environment_state"][:3], observation["environment_state"][3:6]
        episode.lifted |= bool(block[2] - start_z > LIFT_M)
        # Sampled once a step (0.1 s): a lift counts as a reach even if no step caught the jaws close.
        episode.reached |= episode.lifted or bool(
            np.linalg.norm(np.asarray(sim.ik_point_pos) - block) < REACH_M
        )
        episode.at_goal |= episode.lifted and bool(np.linalg.norm(block[:2] - goal[:2]) < GOAL_M)
        episode.success |= bool(info.get("is_success", False))
        done = terminated or truncated
    env.close()
    return episode


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("checkpoints", nargs="+", type=Path, help="pretrained_model folders")
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument(
        "--seed", type=int, default=1000, help="lerobot-eval's default: the same start states"
    )
    parser.add_argument(
        "--n_action_steps", type=int, default=None, help="execute this many actions of each chunk"
    )
    parser.add_argument(
        "--oracle_centring",
        action="store_true",
        help="the expert centres the open jaws over the block; the policy does the rest (an experiment)",
    )
    args = parser.parse_args()
    print(f"command: python benchmarks/closed_loop_phases.py {' '.join(sys.argv[1:])}")
    from lerobot_ext import load_policy

    pooled: list[Episode] = []
    for checkpoint in args.checkpoints:
        policy, pre, post = load_policy(checkpoint)
        policy.eval()
        if args.n_action_steps is not None:
            # Read when the action queue is made (policy.reset(), before each episode).
            policy.config.n_action_steps = args.n_action_steps
        episodes = [
            run_episode(policy, pre, post, args.seed + i, args.oracle_centring) for i in range(args.episodes)
        ]
        pooled.extend(episodes)
        report(str(checkpoint), episodes)
    if len(args.checkpoints) > 1:
        report(f"pooled over {len(args.checkpoints)} checkpoints", pooled)


def report(name: str, episodes: list[Episode]) -> None:
    n = len(episodes)

    def share(count: int) -> str:
        p = count / n
        return f"{100 * p:5.1f} +- {100 * (p * (1 - p) / n) ** 0.5:4.1f}%"

    print(f"\n== {name}: {n} episodes")
    for phase, attribute in zip(PHASES, ("reached", "lifted", "at_goal", "success"), strict=True):
        print(f"  {phase:<8} {share(sum(getattr(e, attribute) for e in episodes))}")
    print("  failures by the last phase reached:")
    for last, what in (
        ("none", "never reached the block"),
        ("reach", "reached, never lifted (the grasp)"),
        ("lift", "lifted, never at the goal (carried or dropped)"),
        ("at goal", "at the goal, no success (the release or the rest)"),
    ):
        print(f"    {what:<52} {share(sum(e.furthest == last for e in episodes))}")
    closed = [e for e in episodes if e.close_height_m is not None]
    if not closed:
        print("  the jaws were never commanded shut")
        return
    from lerobot_env_so101.scripted.pick_place import GRASP_HEIGHT

    heights = np.array([e.close_height_m for e in closed]) * 100
    offsets = np.array([e.close_offset_m for e in closed]) * 100
    print(
        f"  first close command ({len(closed)} episodes): height above the block's centre "
        f"{np.median(heights):.1f} cm median ({np.percentile(heights, 10):.1f}-{np.percentile(heights, 90):.1f} "
        f"for 80%), the expert's {100 * GRASP_HEIGHT:.1f}; horizontal offset {np.median(offsets):.1f} cm median "
        f"({np.percentile(offsets, 90):.1f} at the 90th percentile)"
    )
    high = [e for e in closed if e.close_height_m > GRASP_HEIGHT + HIGH_CLOSE_M]
    low = [e for e in closed if e.close_height_m <= GRASP_HEIGHT + HIGH_CLOSE_M]
    for group, what in (
        (high, "more than 0.5 cm above the grasp height"),
        (low, "at the grasp height or lower"),
    ):
        if group:
            print(
                f"    closed {what:<40} {share(len(group))} of episodes; success {sum(e.success for e in group)}"
                f"/{len(group)}, lifted {sum(e.lifted for e in group)}/{len(group)}"
            )
    on_top = [e for e in closed if e.jaw_on_top]
    print(
        f"  a jaw pad on the block's top face at that close: {share(len(on_top))} of episodes; of those, "
        f"{sum(e.close_height_m > GRASP_HEIGHT + HIGH_CLOSE_M for e in on_top)} closed high, "
        f"{sum(e.success for e in on_top)} succeeded"
    )
    # Why a close is high: an open jaw that lands on the block stops the descent above the grasp height.
    print("  by the horizontal offset at that close:")
    for low_cm, high_cm in OFFSET_BINS_CM:
        group = [e for e in closed if low_cm <= 100 * e.close_offset_m < high_cm]
        if group:
            high_share = sum(e.close_height_m > GRASP_HEIGHT + HIGH_CLOSE_M for e in group) / len(group)
            print(
                f"    {f'{low_cm:.1f}-{high_cm:.1f}' if high_cm < 100 else f'{low_cm:.1f}+':>8} cm: {len(group):3d} episodes, {100 * high_share:5.1f}% closed high, "
                f"success {sum(e.success for e in group)}/{len(group)}"
            )


if __name__ == "__main__":
    main()
