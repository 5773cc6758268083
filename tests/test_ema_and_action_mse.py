"""``--ema.enable`` (the ``ema`` plugin on lerobot 0.6.1, upstream's own on 0.6.2: one command line)
and ``--action_mse.*``, the held-out action error logged with fixed noise."""

from __future__ import annotations

import csv

import pytest
import torch
from helpers import TINY_DIFFUSION, dataset_flags, load_weights, train_in_process

from lerobot_ext.ema.plugin import UPSTREAM_HAS_EMA
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
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[1])
    rows = list(csv.DictReader((measured / "action_mse.csv").read_text().splitlines()))
    assert [int(r["step"]) for r in rows] == [2, 4]
    assert all(float(r["heldout_action_mse"]) > 0 for r in rows)
    # Fixed noise: the same run measures the same values.
    again = tmp_path / "again"
    assert train_in_process(job(bimodal_root, again, *flags)) == 0
    assert (again / "action_mse.csv").read_text() == (measured / "action_mse.csv").read_text()
