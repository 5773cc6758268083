"""The RoboCasa users' command lines from shared/CONTEXT.md, with small sizes, end to end."""

from __future__ import annotations

import pytest
from helpers import USERS_FILTER, dataset_flags, read_json, run_cli, train_in_process


def users_flow_flags(root, out) -> list[str]:
    """Their flow command; only sizes changed (crop 40 of 48 px, small U-Net, batch 4)."""
    return [
        *dataset_flags(root),
        "--policy.type=flow",
        "--policy.horizon=8",
        "--policy.n_action_steps=7",
        "--policy.drop_n_last_frames=0",
        "--policy.vision_backbone=resnet18",
        "--policy.crop_shape=[40,40]",
        "--policy.use_separate_rgb_encoder_per_camera=true",
        "--policy.down_dims=[16,32,64]",
        "--policy.num_inference_steps=10",
        "--policy.pretrained_backbone_weights=null",
        "--policy.device=cpu",
        "--policy.optimizer_lr=1e-4",
        "--num_workers=0",
        "--job_name=flow",
        f"--output_dir={out}",
        "--policy.push_to_hub=false",
        "--wandb.enable=false",
    ]


@pytest.mark.slow
def test_users_flow_command_trains_through_lerobot_train_ext(robocasa_root, tmp_path):
    out = tmp_path / "flow"
    args = [
        *users_flow_flags(robocasa_root, out),
        f"--state_filtered_keys={USERS_FILTER}",
        "--action_keep_dims=7",
        "--batch_size=4",
        "--steps=2",
        "--save_freq=2",
    ]
    assert train_in_process(args) == 0
    pretrained = out / "checkpoints" / "000002" / "pretrained_model"
    config = read_json(pretrained / "config.json")
    assert config["type"] == "flow" and config["num_inference_steps"] == 10
    assert config["input_features"]["observation.state"]["shape"] == [30]
    assert config["output_features"]["action"]["shape"] == [7]
    train_config = read_json(pretrained / "train_config.json")
    assert train_config["job_name"] == "flow" and train_config["action_keep_dims"] == 7

    from lerobot_policy_flow import FlowPolicy

    policy = FlowPolicy.from_pretrained(pretrained)
    assert len(policy.flow.rgb_encoder) == 3  # one encoder per camera, as asked


@pytest.mark.slow
def test_flow_trains_through_stock_lerobot_train(robocasa_root, tmp_path):
    out = tmp_path / "stock"
    result = run_cli(["lerobot-train", *users_flow_flags(robocasa_root, out), "--batch_size=2", "--steps=1"])
    assert "Checkpoint policy after step 1" in result.stdout + result.stderr
    assert read_json(out / "checkpoints" / "000001" / "pretrained_model" / "config.json")["type"] == "flow"


@pytest.mark.slow
def test_users_profiling_command(robocasa_root, tmp_path):
    """Their timing run: --batch_size=128 --steps=1000 --log_freq=100 --num_workers=16
    --save_checkpoint=false --wandb.enable=false --profile, sized down (DataLoader workers kept)."""
    out = tmp_path / "timing"
    args = [
        *users_flow_flags(robocasa_root, out),
        f"--state_filtered_keys={USERS_FILTER}",
        "--action_keep_dims=7",
        "--batch_size=8",
        "--steps=6",
        "--log_freq=3",
        "--num_workers=2",
        "--save_checkpoint=false",
        "--profile",
        "--profile.warmup_steps=2",
    ]
    result = run_cli(["lerobot-train-ext", *args])
    output = result.stdout + result.stderr
    assert output.count("profile @ step") == 2
    summary = read_json(out / "profile" / "summary.json")
    assert summary["settings"]["num_workers"] == 2 and summary["settings"]["cameras"] == 3
    assert summary["verdict"]["level"] in {"NOT", "MODERATELY", "HIGHLY"}
    assert summary["verdict"]["line"] in output
    assert not (out / "checkpoints").exists()
