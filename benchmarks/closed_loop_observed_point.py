"""What a policy observes of the point the SO-101 pick-and-place expert steers.

The scripted expert moves the grasp point between the jaws (the env's ``ik_point_pos``) and closes
the jaws when that point is within 4 mm of its grasp position over the block. A policy does not see
that point: ``observation.state`` holds the ``so101/ee_pos`` sensor's position (its last three
entries). If the two differed by an offset that changes with the arm's pose, centring on the block
to a few millimetres would need the arm's kinematics; if the offset is constant where it matters,
the observation already carries what the expert steers by, shifted.

This runs the expert on the evaluation start states (``--seed`` 1000 + episode, no noise) and
prints the grasp point minus the observed end-effector position, per axis: at the step the expert
first commands the jaws shut, and over every step of the episodes; and, at that close, the
horizontal distance of each from the block's centre.

    python benchmarks/closed_loop_observed_point.py [--episodes 50] [--seed 1000]
"""

from __future__ import annotations

import argparse

import numpy as np

EE_SLICE = slice(11, 14)  # observation.state: ..., gripper_opening, ee_x, ee_y, ee_z


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1000)
    args = parser.parse_args()

    from lerobot_env_so101.scripted.pick_place import PickPlaceController
    from lerobot_env_so101_pickplace.env import EPISODE_LENGTH, PickPlaceEnv

    env = PickPlaceEnv(render=False, evaluation=True)
    every, at_close, grasp_to_block, observed_to_block = [], [], [], []
    for episode in range(args.episodes):
        observation, _ = env.reset(seed=args.seed + episode)
        expert = PickPlaceController(action_scale=env.action_scale)
        closed = False
        for _ in range(EPISODE_LENGTH):
            block = observation["environment_state"][:3]
            observed = observation["agent_pos"][EE_SLICE]
            grasp = np.array(env.sim.ik_point_pos)
            action = expert.act(grasp, block, observation["environment_state"][3:])
            every.append(grasp - observed)
            if action[3] < 0.5 and not closed:
                closed = True
                at_close.append(grasp - observed)
                grasp_to_block.append(np.linalg.norm((grasp - block)[:2]))
                observed_to_block.append(np.linalg.norm((observed - block)[:2]))
            observation, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                break
    env.close()

    def row(label: str, values: list) -> str:
        a = np.array(values) * 100
        return (
            f"| {label} | {len(a)} | "
            + " | ".join(f"{m:+.2f} +- {s:.2f}" for m, s in zip(a.mean(0), a.std(0), strict=True))
            + " |"
        )

    print(f"scripted expert, {args.episodes} evaluation start states from seed {args.seed}, no noise")
    print(
        "\ngrasp point minus the observed end-effector position (cm; mean +- standard deviation over steps)"
    )
    print("| when | steps | x | y | z |\n|---|---:|---:|---:|---:|")
    print(row("at the expert's close", at_close))
    print(row("every step", every))
    g, o = np.array(grasp_to_block) * 100, np.array(observed_to_block) * 100
    print(
        f"\nat the close, horizontal distance from the block's centre (cm, median / max): grasp point "
        f"{np.median(g):.2f} / {g.max():.2f}; observed end-effector {np.median(o):.2f} / {o.max():.2f}"
    )


if __name__ == "__main__":
    main()
