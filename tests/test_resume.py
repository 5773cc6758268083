"""Train N steps, resume to 2N: the extension's fields and transforms survive the round trip."""

from __future__ import annotations

import pytest
from helpers import IMAGE_FLAGS, TINY_DIFFUSION, USERS_FILTER, dataset_flags, read_json, train_in_process


def _steps(pipeline: dict) -> list[str]:
    return [s.get("class", s.get("registry_name")) for s in pipeline["steps"]]


@pytest.mark.slow
def test_resume_keeps_extension_fields_and_transforms(robocasa_root, tmp_path):
    out = tmp_path / "run"
    first = [
        *dataset_flags(robocasa_root),
        *TINY_DIFFUSION,
        *IMAGE_FLAGS,
        "--steps=2",
        "--save_freq=2",
        f"--output_dir={out}",
        f"--state_filtered_keys={USERS_FILTER}",
        "--action_keep_dims=7",
        "--profile.warmup_steps=1",
    ]
    assert train_in_process(first) == 0
    config_path = out / "checkpoints" / "last" / "pretrained_model" / "train_config.json"
    saved = read_json(config_path)
    assert saved["action_keep_dims"] == 7
    assert saved["state_filtered_keys"] == USERS_FILTER[1:-1].split(",")
    assert saved["profile"]["warmup_steps"] == 1

    # Resume with only the two flags lerobot-train needs, and train further.
    assert train_in_process(["--resume=true", f"--config_path={config_path}", "--steps=4"]) == 0
    final = out / "checkpoints" / "000004" / "pretrained_model"
    resumed = read_json(final / "train_config.json")
    assert resumed["state_filtered_keys"] == saved["state_filtered_keys"]
    assert resumed["action_keep_dims"] == 7 and resumed["profile"]["warmup_steps"] == 1
    assert resumed["steps"] == 4 and resumed["resume"] is True
    assert read_json(final.parent / "training_state" / "training_step.json")["step"] == 4

    policy = read_json(final / "config.json")
    assert policy["input_features"]["observation.state"]["shape"] == [30]
    assert policy["output_features"]["action"]["shape"] == [7]
    # The transform steps come from the checkpoint on resume: present once, not added twice.
    pre = _steps(read_json(final / "policy_preprocessor.json"))
    post = _steps(read_json(final / "policy_postprocessor.json"))
    assert pre.count("lerobot_ext.transforms.steps.StateFilterStep") == 1
    assert pre.count("lerobot_ext.transforms.steps.ActionSliceStep") == 1
    assert post.count("lerobot_ext.transforms.steps.ActionPadStep") == 1


@pytest.mark.slow
def test_resume_with_different_transform_flags_is_refused(robocasa_root, tmp_path, capsys):
    out = tmp_path / "run"
    common = [*dataset_flags(robocasa_root), *TINY_DIFFUSION, *IMAGE_FLAGS]
    assert train_in_process([*common, "--steps=1", f"--output_dir={out}", "--action_keep_dims=7"]) == 0
    config_path = out / "checkpoints" / "last" / "pretrained_model" / "train_config.json"
    code = train_in_process(
        ["--resume=true", f"--config_path={config_path}", "--steps=2", "--action_keep_dims=8"]
    )
    assert code == 2
    error = capsys.readouterr().err
    assert "was trained with data transforms" in error
    assert "ActionSliceStep(keep_dims=7, input_width=12)" in error
    assert "ActionSliceStep(keep_dims=8, input_width=12)" in error
    assert not (out / "checkpoints" / "000002").exists()
