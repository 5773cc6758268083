"""``--ema.enable`` (the ``ema`` plugin on lerobot 0.6.1, upstream's own on 0.6.2: one command line)
and ``--action_mse.*``, the held-out action error logged with fixed noise."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import types

import pytest
import torch
from helpers import TINY_DIFFUSION, StopAt, dataset_flags, load_weights, same_tensors, train_in_process

from lerobot_ext import hookimpl
from lerobot_ext.ema.plugin import UPSTREAM_HAS_EMA, EmaConfig
from lerobot_ext.upstream.versions import installed_lerobot


def job(root, out, *extra):
    return [
        *dataset_flags(root),
        *TINY_DIFFUSION,
        "--steps=4",
        "--save_freq=4",
        "--seed=5",
        f"--output_dir={out}",
        *extra,
    ]


def test_upstream_ema_is_used_where_lerobot_has_it():
    assert (installed_lerobot() != "0.6.1") == UPSTREAM_HAS_EMA


def defaults(config: type) -> dict[str, object]:
    return {f.name: f.default for f in dataclasses.fields(config)}


def test_the_ema_flags_are_upstreams_on_either_version():
    from lerobot_ext.ema.plugin import plugin

    declared = []
    plugin.register_config_fields(register=lambda name, config, *_, **__: declared.append((name, config)))
    if UPSTREAM_HAS_EMA:
        from lerobot.configs.default import EMAConfig

        # The 0.6.1 plugin's flags are upstream's: same names, same defaults (use_for_eval included).
        assert defaults(EmaConfig) == defaults(EMAConfig)
        assert declared == []  # upstream's own --ema.* is used
    else:
        assert declared == [("ema", EmaConfig)]
        assert defaults(EmaConfig)["use_for_eval"] is True


class Recorder:
    """Keeps the policy; records its live weights after each step and what each in-training
    evaluation is given (``eval_policy_all`` replaced: no episodes are run)."""

    def __init__(self) -> None:
        self.policy = None
        self.live: dict[int, dict] = {}
        self.evaluated: list[dict] = []

    @staticmethod
    def weights(policy) -> dict:
        return {k: v.detach().clone() for k, v in policy.state_dict().items()}

    @hookimpl
    def policy_made(self, policy):
        self.policy = policy

    @hookimpl
    def on_step_end(self, step):
        self.live[step] = self.weights(self.policy)

    def eval_policy_all(self, *, policy, **kwargs):
        # What an evaluation does with the policy (eval mode, select_action), without episodes.
        was_training = policy.training
        policy.eval()
        policy.reset()
        observation = {key: torch.zeros(1, *f.shape) for key, f in policy.config.input_features.items()}
        with torch.inference_mode():
            policy.select_action(observation)
        self.evaluated.append(self.weights(policy))
        policy.train(was_training)
        return {"overall": {"eval_s": 0.0, "avg_sum_reward": 0.0, "pc_success": 0.0, "video_paths": []}}


@pytest.mark.slow
def test_in_training_evaluation_sees_the_ema_weights_and_training_goes_on_from_the_live_ones(
    bimodal_root, tmp_path, extra_entry_points, monkeypatch
):
    from lerobot.scripts import lerobot_train

    recorder = Recorder()
    extra_entry_points("recorder", recorder)
    monkeypatch.setattr(lerobot_train, "eval_policy_all", recorder.eval_policy_all)
    monkeypatch.setattr(lerobot_train, "_make_eval_envs", lambda cfg: contextlib.nullcontext({}))
    # Evaluations after step 2 (no checkpoint) and step 4 (the checkpoint); decay 0.5: shadow != live.
    flags = ["--ema.enable=true", "--ema.decay=0.5", "--env.type=so101_pickplace", "--env_eval_freq=2",
             "--eval.n_episodes=1", "--eval.batch_size=1"]  # fmt: skip
    runs = {}
    for use in ("true", "false"):
        recorder.evaluated, recorder.live = [], {}
        out = tmp_path / use
        assert train_in_process(job(bimodal_root, out, *flags, f"--ema.use_for_eval={use}")) == 0
        checkpoint = out / "checkpoints" / "000004"
        runs[use] = (recorder.evaluated, dict(recorder.live), checkpoint)
    evaluated, live, checkpoint = runs["true"]
    assert len(evaluated) == 2
    assert not same_tensors(evaluated[0], live[2])
    assert same_tensors(evaluated[1], load_weights(checkpoint, "pretrained_model_ema"))
    assert not same_tensors(evaluated[1], load_weights(checkpoint))
    evaluated, live, plain = runs["false"]
    assert same_tensors(evaluated[0], live[2]) and same_tensors(evaluated[1], load_weights(plain))
    # The swap was undone before step 3: training went on from the live weights, exactly.
    assert same_tensors(runs["true"][1][3], runs["false"][1][3])
    assert same_tensors(load_weights(checkpoint), load_weights(plain))


@pytest.mark.slow
def test_a_resumed_run_continues_the_ema_shadow(bimodal_root, tmp_path, extra_entry_points):
    flags = ["--ema.enable=true", "--auto_resume=true"]
    whole = tmp_path / "whole"
    assert train_in_process(job(bimodal_root, whole, *flags)) == 0
    stopper = StopAt(2)
    extra_entry_points("stopper", stopper)
    resumed = tmp_path / "resumed"
    assert train_in_process(job(bimodal_root, resumed, *flags)) == 0
    assert (resumed / "checkpoints" / "000002" / "training_state" / "ema_state.pt").is_file()
    stopper.step = None
    assert train_in_process(job(bimodal_root, resumed, *flags)) == 0  # the same command: resumes
    mine, theirs = (
        load_weights(run / "checkpoints" / "000004", "pretrained_model_ema") for run in (resumed, whole)
    )
    # Equal only if the shadow was restored: restarted from the step-2 weights it would differ.
    assert same_tensors(mine, theirs)


@pytest.mark.slow
def test_ema_writes_a_deployable_shadow_that_follows_its_decay(bimodal_root, tmp_path):
    # A near-zero constant decay: the shadow is the live weights; the default schedule is not.
    assert (
        train_in_process(job(bimodal_root, tmp_path / "copy", "--ema.enable=true", "--ema.decay=1e-9")) == 0
    )
    checkpoint = tmp_path / "copy" / "checkpoints" / "000004"
    live, shadow = load_weights(checkpoint), load_weights(checkpoint, "pretrained_model_ema")
    assert all(torch.allclose(live[k], shadow[k], atol=1e-6) for k in live)
    assert (checkpoint / "training_state" / "ema_state.pt").is_file()
    assert train_in_process(job(bimodal_root, tmp_path / "warmup", "--ema.enable=true")) == 0
    checkpoint = tmp_path / "warmup" / "checkpoints" / "000004"
    live, shadow = load_weights(checkpoint), load_weights(checkpoint, "pretrained_model_ema")
    assert any(not torch.allclose(live[k], shadow[k]) for k in live)
    # The shadow deploys like the live weights: same configs and processors next to it.
    names = lambda folder: sorted(p.name for p in folder.iterdir())  # noqa: E731
    assert names(checkpoint / "pretrained_model_ema") == names(checkpoint / "pretrained_model")


def test_a_bad_ema_decay_is_one_line_on_either_version(bimodal_root, tmp_path, capsys):
    assert train_in_process(job(bimodal_root, tmp_path / "run", "--ema.enable=true", "--ema.decay=1.5")) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("ERROR lerobot-ext")]
    assert len(errors) == 1 and "decay" in errors[0] and "1.5" in errors[0] and "[0, 1]" in errors[0]
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_action_mse_is_logged_with_fixed_noise_and_leaves_training_alone(bimodal_root, tmp_path, capsys):
    plain = tmp_path / "plain"
    assert train_in_process(job(bimodal_root, plain, "--log_freq=1")) == 0
    plain_log = capsys.readouterr().err
    measured = tmp_path / "measured"
    flags = [
        f"--action_mse.root={bimodal_root}",
        "--action_mse.every=2",
        "--action_mse.samples=16",
        "--log_freq=1",
    ]
    assert train_in_process(job(bimodal_root, measured, *flags)) == 0
    measured_log = capsys.readouterr().err
    losses = lambda log: [line.split("loss:")[1].split()[0] for line in log.splitlines() if " loss:" in line]  # noqa: E731
    assert losses(measured_log) == losses(plain_log) and len(losses(plain_log)) == 4
    weights = (
        load_weights(measured / "checkpoints" / "000004"),
        load_weights(plain / "checkpoints" / "000004"),
    )
    assert same_tensors(*weights)
    rows = list(csv.DictReader((measured / "action_mse.csv").read_text().splitlines()))
    assert [int(r["step"]) for r in rows] == [2, 4]
    assert all(float(r["heldout_action_mse"]) > 0 for r in rows)
    # Fixed noise: the same run measures the same values.
    again = tmp_path / "again"
    assert train_in_process(job(bimodal_root, again, *flags)) == 0
    assert (again / "action_mse.csv").read_text() == (measured / "action_mse.csv").read_text()
    # Not mere determinism: the same weights measured after torch's global generator moved on
    # give the same value (the noise does not come from it, and it is left as it was), while
    # another --action_mse.seed, other noise, gives another value.
    from lerobot_ext.action_mse.plugin import plugin

    cfg = types.SimpleNamespace(action_mse=types.SimpleNamespace(seed=0))
    torch.manual_seed(1)
    first = plugin.measure(cfg)
    torch.manual_seed(2)
    state = torch.get_rng_state()
    second = plugin.measure(cfg)
    assert torch.equal(torch.get_rng_state(), state)
    assert first == second
    assert plugin.measure(types.SimpleNamespace(action_mse=types.SimpleNamespace(seed=1))) != first
