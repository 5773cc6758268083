"""The closed loop: the SO-101 pick-and-place env plugin, its scripted-expert demonstrations, and
a flow policy trained and evaluated in it - small, so the pipeline cannot rot (the benchmark
itself, benchmarks/closed_loop.py, stays out of CI)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import dataset_flags, read_json, run_cli

FLOW = [
    "--policy.type=flow",
    "--policy.device=cpu",
    "--policy.horizon=16",
    "--policy.n_action_steps=8",
    "--policy.n_obs_steps=2",
    "--policy.down_dims=[16,32,64]",
    "--policy.num_inference_steps=2",
    "--policy.push_to_hub=false",
    "--wandb.enable=false",
    "--num_workers=0",
    "--batch_size=8",
]


@pytest.fixture(scope="module")
def pickplace_root(tmp_path_factory):
    from lerobot_env_so101_pickplace.demonstrations import write

    return write(tmp_path_factory.mktemp("sim") / "so101_pickplace", episodes=3, seed=0)


def test_the_env_reports_its_task_state_and_success_as_lerobot_reads_them():
    from lerobot_env_so101_pickplace import make_env

    env = make_env()
    first, info = env.reset(seed=1000)
    again, _ = env.reset(seed=1000)
    other, _ = env.reset(seed=1001)
    assert {k: v.shape for k, v in first.items()} == {"agent_pos": (14,), "environment_state": (6,)}
    assert first["agent_pos"].dtype == np.float32
    assert np.array_equal(first["environment_state"], again["environment_state"])  # seeded start states
    assert not np.array_equal(first["environment_state"], other["environment_state"])
    assert info["is_success"] is False
    _, _, _, _, info = env.step(np.zeros(4, dtype=np.float32))
    assert info["is_success"] is False and "is_success" in info
    assert env.get_wrapper_attr("task_description") == "pick up the cube and place it on the goal"
    assert env.render().shape == (32, 32, 3)  # a placeholder: frames only with --env.render=true
    assert env.get_wrapper_attr("_max_episode_steps") == 100


def test_the_env_type_is_registered_with_lerobot():
    from lerobot.envs.configs import EnvConfig
    from lerobot.envs.utils import env_to_policy_features

    cfg = EnvConfig.get_choice_class("so101_pickplace")()
    features = env_to_policy_features(cfg)
    assert {k: tuple(v.shape) for k, v in features.items()} == {
        "action": (4,),
        "observation.state": (14,),
        "observation.environment_state": (6,),
    }
    envs = cfg.create_envs(n_envs=2)
    (vector,) = envs["so101_pickplace"].values()
    assert vector.num_envs == 2
    vector.close()


def test_demonstrations_succeed_record_the_clean_action_and_never_use_eval_seeds(monkeypatch):
    from lerobot_env_so101_pickplace import demonstrations
    from lerobot_env_so101_pickplace.env import EVAL_SEEDS_BELOW, PickPlaceEnv

    seeds = []
    original = PickPlaceEnv.reset

    def reset(self, *, seed=None, options=None):
        seeds.append(seed)
        return original(self, seed=seed, options=options)

    monkeypatch.setattr(PickPlaceEnv, "reset", reset)
    episodes = list(demonstrations.successful_episodes(2, seed=0, noise=0.1, counts={"attempts": 0}))
    assert len(episodes) == 2 and all(len(frames) > 20 for frames in episodes)
    assert seeds and min(seeds) >= EVAL_SEEDS_BELOW
    # The expert's gripper command is exactly open (1) or closed (0): recorded unperturbed.
    grippers = {float(frame["action"][3]) for frame in episodes[0]}
    assert grippers <= {0.0, 1.0} and len(grippers) == 2


def test_the_demo_dataset_command_writes_the_layout(pickplace_root):
    info = read_json(pickplace_root / "meta" / "info.json")
    assert info["total_episodes"] == 3 and info["fps"] == 10 and info["robot_type"] == "so101"
    assert info["features"]["observation.state"]["shape"] == [14]
    assert info["features"]["observation.environment_state"]["shape"] == [6]
    assert info["features"]["action"]["shape"] == [4]


@pytest.mark.slow
def test_a_flow_policy_trains_evaluates_in_training_and_with_both_eval_commands(pickplace_root, tmp_path):
    out = tmp_path / "run"
    # In-training evaluation in the simulator, through lerobot-train-ext.
    trained = run_cli(
        [
            "lerobot-train-ext",
            *dataset_flags(pickplace_root),
            *FLOW,
            "--steps=4",
            "--save_freq=4",
            f"--output_dir={out}",
            "--env.type=so101_pickplace",
            "--env_eval_freq=4",
            "--eval.n_episodes=2",
            "--eval.batch_size=2",
            "--eval.use_async_envs=false",
        ]
    )
    assert "pc_success" in trained.stderr + trained.stdout
    checkpoint = out / "checkpoints" / "last" / "pretrained_model"
    for command in ("lerobot-eval-ext", "lerobot-eval"):
        evaluation = tmp_path / command
        run_cli(
            [
                command,
                f"--policy.path={checkpoint}",
                "--env.type=so101_pickplace",
                "--eval.n_episodes=2",
                "--eval.batch_size=2",
                f"--output_dir={evaluation}",
            ]
        )
        overall = json.loads((evaluation / "eval_info.json").read_text())["overall"]
        assert overall["n_episodes"] == 2 and 0.0 <= overall["pc_success"] <= 100.0
