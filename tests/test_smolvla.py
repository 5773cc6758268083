"""SmolVLA through lerobot-train-ext on a tiny SmolVLM the suite writes offline (nothing downloaded):
with the transforms, camera selection, the data cache, --profile, EMA and --auto_resume, and on
the GR2 humanoid's 45-D state / 37-D action."""

from __future__ import annotations

import json

import pytest
from helpers import (
    USERS_FILTER,
    StopAt,
    load_weights,
    run_cli,
    same_tensors,
    smolvla_command,
    train_in_process,
)


@pytest.mark.slow
def test_smolvla_trains_with_every_feature_and_resumes_exactly(
    robocasa_root, tiny_smolvlm, tmp_path, capsys, extra_entry_points
):
    features = [
        f"--state_filtered_keys={USERS_FILTER}",
        "--action_keep_dims=7",
        "--camera_keys=[robot0_agentview_left,robot0_eye_in_hand]",
        f"--data_cache={tmp_path / 'cache'}",
        "--profile",
        "--profile.chart=false",
        "--ema.enable=true",
        "--save_freq=2",
    ]
    straight = tmp_path / "straight"
    assert (
        train_in_process(smolvla_command(robocasa_root, tiny_smolvlm, straight, *features, "--steps=4")) == 0
    )
    # The same run preempted after step 2, and the same command again.
    stopper = StopAt(2)
    extra_entry_points("stopper", stopper)
    resumed = tmp_path / "resumed"
    command = smolvla_command(
        robocasa_root, tiny_smolvlm, resumed, *features, "--steps=4", "--auto_resume=true"
    )
    assert train_in_process(command) == 0
    assert sorted(p.name for p in (resumed / "checkpoints").iterdir()) == ["000002", "last"]
    stopper.step = None
    assert train_in_process(command) == 0
    assert "--auto_resume: continuing" in capsys.readouterr().err
    # It ends where the uninterrupted run does, bit for bit.
    assert same_tensors(
        load_weights(resumed / "checkpoints" / "000004"), load_weights(straight / "checkpoints" / "000004")
    )
    checkpoint = resumed / "checkpoints" / "000004"
    config = json.loads((checkpoint / "pretrained_model" / "config.json").read_text())
    assert config["type"] == "smolvla"
    assert config["input_features"]["observation.state"]["shape"] == [30]  # 53 - the users' 23 dims
    assert config["output_features"]["action"]["shape"] == [7]
    assert sorted(k for k in config["input_features"] if "images" in k) == [
        "observation.images.robot0_agentview_left",
        "observation.images.robot0_eye_in_hand",
    ]
    assert (checkpoint / "pretrained_model_ema" / "model.safetensors").is_file()
    # Both saved policies carry the VLM's files (the EMA copy is written after the commit on 0.6.2).
    for model in ("pretrained_model", "pretrained_model_ema"):
        assert json.loads((checkpoint / model / "config.json").read_text())["vlm_model_name"] == "vlm"
        assert (checkpoint / model / "vlm" / "tokenizer.json").is_file()
    assert (resumed / "profile" / "report.txt").is_file()


def test_smolvla_on_the_gr2_humanoids_widths_raises_its_caps_unasked(gr2_root, tiny_smolvlm, tmp_path):
    out = tmp_path / "run"
    assert train_in_process(smolvla_command(gr2_root, tiny_smolvlm, out, "--steps=1", "--save_freq=1")) == 0
    config = json.loads((out / "checkpoints" / "000001" / "pretrained_model" / "config.json").read_text())
    assert (config["max_state_dim"], config["max_action_dim"]) == (45, 37)


@pytest.mark.slow
def test_demo_vlm_writes_a_folder_smolvla_builds_from(tmp_path):
    result = run_cli(["lerobot-ext", "demo-vlm", str(tmp_path / "vlm")], env={"HF_HUB_OFFLINE": "1"})
    assert f"--policy.vlm_model_name={tmp_path / 'vlm'}" in result.stdout
    assert {"config.json", "tokenizer.json", "processor_config.json"} <= {
        p.name for p in (tmp_path / "vlm").iterdir()
    }
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(tmp_path / "vlm")
    tokenizer = processor.tokenizer
    # What SmolVLA reads of it: the image tokens' ids, and a task tokenized word by word.
    assert tokenizer.fake_image_token_id != tokenizer.global_image_token_id
    assert len(tokenizer("pick the cube")["input_ids"]) == 3


def test_smolvla_trains_on_two_gr2_recordings_each_frame_with_its_own_task(
    gr2_root, tiny_smolvlm, tmp_path, extra_entry_points
):
    """--dataset.mix with a VLA: the second recording's frames carry its own task text into the
    batches, and the run trains and saves a checkpoint of the full widths."""
    import numpy as np

    from lerobot_ext import hookimpl, write_dataset
    from lerobot_ext.demo import gr2

    rng = np.random.default_rng(11)
    second = write_dataset(
        tmp_path / "gr2_b",
        "x/gr2_b",
        gr2.FPS,
        "fourier_gr2",
        gr2.features(48),
        (gr2.episode(rng, 10, 48) for _ in range(2)),
        "stack the boxes",
    )
    tasks: list[set[str]] = []

    class Reader:
        @hookimpl
        def datasets_ready(self, dataset):
            tasks.append({dataset[0]["task"], dataset[len(dataset) - 1]["task"]})

    extra_entry_points("reader", Reader())
    out = tmp_path / "run"
    command = smolvla_command(
        gr2_root, tiny_smolvlm, out, f"--dataset.mix=[{second}]", "--steps=2", "--save_freq=2"
    )
    assert train_in_process(command) == 0
    assert tasks == [{"pick up the box and place it on the table", "stack the boxes"}]
    config = json.loads((out / "checkpoints" / "000002" / "pretrained_model" / "config.json").read_text())
    assert config["output_features"]["action"]["shape"] == [37]
