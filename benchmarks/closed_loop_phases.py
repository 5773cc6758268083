"""Where a policy fails in the SO-101 pick-and-place task: how far each episode gets.

Runs saved checkpoints in the simulator on the evaluation start states ``lerobot-eval`` uses
(``--seed`` 1000 + episode), as a robot would run them (``lerobot_ext.load_policy``: the saved
pre/post-processors, a full observation in, a full action out), and records for every episode the
furthest phase it reached:

- ``reach``: the grasp point between the jaws came within 2.5 cm of the block's centre (or the
  block was lifted);
- ``lift``: the block rose 3 cm above its start (the task's own "carried" rule);
- ``at goal``: the block, after a lift, was within 3 cm of the goal (the task's place distance);
- ``success``: the task's own success (carried, at the goal, released, at rest).

The table gives each phase's share of episodes, and the failures by the last phase reached: never
reached, reached but never lifted (the grasp), lifted but never at the goal (carried or dropped),
at the goal but no success (the release or the block's rest).

    python benchmarks/closed_loop_phases.py CHECKPOINT [CHECKPOINT ...] [--episodes 50] [--seed 1000]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REACH_M = 0.025
LIFT_M = 0.03  # the task's _MIN_CARRY_RISE
GOAL_M = 0.03  # the task's PLACE_SUCCESS_DISTANCE
PHASES = ("reach", "lift", "at goal", "success")
TASK = "pick up the cube and place it on the goal"  # what the env tells lerobot-eval


@dataclass
class Episode:
    reached: bool = False
    lifted: bool = False
    at_goal: bool = False
    success: bool = False

    @property
    def furthest(self) -> str:
        flags = (self.reached, self.lifted, self.at_goal, self.success)
        return next((PHASES[i] for i in range(3, -1, -1) if flags[i]), "none")


def run_episode(policy: object, pre: object, post: object, seed: int) -> Episode:
    import torch
    from lerobot_env_so101_pickplace import make_env

    env = make_env()
    observation, _ = env.reset(seed=seed)
    sim = env.unwrapped
    policy.reset()
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
        observation, _, terminated, truncated, info = env.step(np.asarray(action[0].cpu(), np.float32))
        block, goal = observation["environment_state"][:3], observation["environment_state"][3:]
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
    args = parser.parse_args()
    print(f"command: python benchmarks/closed_loop_phases.py {' '.join(sys.argv[1:])}")
    from lerobot_ext import load_policy

    pooled: list[Episode] = []
    for checkpoint in args.checkpoints:
        policy, pre, post = load_policy(checkpoint)
        policy.eval()
        episodes = [run_episode(policy, pre, post, args.seed + i) for i in range(args.episodes)]
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


if __name__ == "__main__":
    main()
