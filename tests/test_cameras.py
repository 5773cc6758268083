"""``--camera_keys=[...]``: a built-in delivered only through the public hooks.

Only the named cameras are decoded in training, the policy is built for them, and the checkpoint
acts on a robot's full observation (every camera).
"""

from __future__ import annotations

import json
import types

import pytest
import torch
from helpers import (
    IMAGE_FLAGS,
    TINY_DIFFUSION,
    dataset_flags,
    deploy_checkpoint,
    read_json,
    train_in_process,
)
from lerobot.configs import PipelineFeatureType, PolicyFeature
from lerobot.configs.types import FeatureType
from lerobot.processor import TransitionKey

from lerobot_ext.cameras.plugin import profile_advice
from lerobot_ext.cameras.selection import keep_cameras, resolve
from lerobot_ext.cameras.steps import DropObservationsStep
from lerobot_ext.dispatch import hooks_of, load_plugins
from lerobot_ext.errors import DatasetLayoutError
from lerobot_ext.inspect_dataset import format_report, inspect_with_flags, load_description

LEFT, RIGHT, WRIST = (
    "observation.images.robot0_agentview_left",
    "observation.images.robot0_agentview_right",
    "observation.images.robot0_eye_in_hand",
)
CAMERAS = [LEFT, RIGHT, WRIST]


def test_cameras_are_named_short_or_in_full_and_an_unknown_one_lists_them() -> None:
    assert resolve(["robot0_eye_in_hand", LEFT], CAMERAS) == [WRIST, LEFT]
    assert resolve(["robot0_eye_in_hand", WRIST], CAMERAS) == [WRIST]  # one camera, two spellings
    with pytest.raises(DatasetLayoutError) as excinfo:
        resolve(["robot0_eye_in_hand", "wrist_cam"], CAMERAS)
    message = str(excinfo.value)
    assert "--camera_keys: unknown camera(s) ['wrist_cam']" in message
    assert "robot0_agentview_left, robot0_agentview_right, robot0_eye_in_hand" in message


def test_the_change_keeps_the_named_cameras_features_and_stats(robocasa_root) -> None:
    dataset = load_description(robocasa_root)[0]
    change, dropped = keep_cameras(dataset, ["robot0_eye_in_hand"])
    assert dropped == [LEFT, RIGHT]
    assert [k for k in change.features if k.startswith("observation.images.")] == [WRIST]
    assert LEFT not in change.stats and WRIST in change.stats
    assert change.features["observation.state"] == dataset.features["observation.state"]
    (step,) = change.preprocessor_steps
    assert step.keys == [LEFT, RIGHT] and change.postprocessor_steps == []
    assert keep_cameras(dataset, [LEFT, RIGHT, WRIST]) is None  # all of them: nothing to do


def test_the_saved_step_removes_the_other_cameras_from_a_full_observation() -> None:
    step = DropObservationsStep(keys=[LEFT, RIGHT])
    observation = {name: torch.zeros(3, 4, 4) for name in CAMERAS} | {"observation.state": torch.zeros(53)}
    out = step({TransitionKey.OBSERVATION: observation})[TransitionKey.OBSERVATION]
    assert sorted(out) == [WRIST, "observation.state"]
    assert len(observation) == 4  # the robot's own dict is untouched
    assert DropObservationsStep(**json.loads(json.dumps(step.get_config()))).get_config() == step.get_config()
    features = {
        PipelineFeatureType.OBSERVATION: {
            name: PolicyFeature(FeatureType.VISUAL, (3, 4, 4)) for name in CAMERAS
        }
    }
    assert list(step.transform_features(features)[PipelineFeatureType.OBSERVATION]) == [WRIST]


def test_inspect_shows_what_camera_keys_would_keep(robocasa_root) -> None:
    host = load_plugins(environ={})
    report = inspect_with_flags(hooks_of(host), robocasa_root, ["--camera_keys=[robot0_eye_in_hand]"])
    assert report.cameras == CAMERAS
    # inspect knows no camera: it shows the plugin's summary and the features the change removes.
    assert report.result == {"changed": {}, "removed": [c for c in CAMERAS if c != WRIST]}
    assert any(
        line.startswith("cameras: cameras 3 -> 1: keeping robot0_eye_in_hand") for line in report.changes
    )
    text = format_report(report)
    assert f"-> removed: {', '.join(c for c in CAMERAS if c != WRIST)}" in text


def test_a_data_bound_run_decoding_every_camera_is_told_about_camera_keys() -> None:
    every = types.SimpleNamespace(camera_keys=[])
    tips = profile_advice(every, "HIGHLY", {"cameras": 3})
    assert tips and tips[0].startswith(
        "--camera_keys=[...] decodes only the cameras the policy needs (now all 3"
    )
    assert profile_advice(every, "NOT", {"cameras": 3}) is None
    chosen = types.SimpleNamespace(camera_keys=["robot0_eye_in_hand"])
    assert profile_advice(chosen, "HIGHLY", {"cameras": 3}) is None


ACT_ON_FULL_OBSERVATION = """
torch.manual_seed(0)
observation = {"observation.state": torch.randn(53)}
for cam in ("robot0_agentview_left", "robot0_agentview_right", "robot0_eye_in_hand"):
    observation[f"observation.images.{cam}"] = torch.rand(3, 48, 48)
batch = pre(observation)
with torch.no_grad():
    action = post(policy.select_action(batch))
print(json.dumps({"cameras_into_policy": sorted(k for k in batch if k.startswith("observation.images.")),
                  "action": action.tolist()}))
"""


@pytest.mark.slow
def test_training_decodes_only_the_kept_cameras_and_the_checkpoint_takes_all(
    robocasa_root, tmp_path, monkeypatch, capsys
):
    from lerobot.datasets import dataset_reader

    decoded: list[str] = []
    original = dataset_reader.decode_video_frames

    def spy(video_path, *args, **kwargs):
        decoded.append(str(video_path))
        return original(video_path, *args, **kwargs)

    monkeypatch.setattr(dataset_reader, "decode_video_frames", spy)
    out = tmp_path / "run"
    common = [*dataset_flags(robocasa_root), *TINY_DIFFUSION, *IMAGE_FLAGS]
    assert (
        train_in_process(
            [
                *common,
                "--steps=2",
                f"--output_dir={out}",
                "--camera_keys=[robot0_eye_in_hand,robot0_agentview_left]",
            ]
        )
        == 0
    )
    assert decoded, "the kept cameras are decoded"
    short = [cam.rsplit(".", 1)[-1] for cam in CAMERAS]
    assert {name for path in decoded for name in short if name in path} == {
        "robot0_eye_in_hand",
        "robot0_agentview_left",
    }

    checkpoint = out / "checkpoints" / "last" / "pretrained_model"
    assert sorted(k for k in read_json(checkpoint / "config.json")["input_features"] if "images" in k) == [
        LEFT,
        WRIST,
    ]
    deployed = deploy_checkpoint(checkpoint, ACT_ON_FULL_OBSERVATION)
    assert deployed["cameras_into_policy"] == [LEFT, WRIST]
    assert len(deployed["action"][0]) == 12

    # A resume that asks for other cameras is refused before the weights are loaded.
    capsys.readouterr()
    resume = [
        "--resume=true",
        f"--config_path={checkpoint / 'train_config.json'}",
        "--steps=3",
        "--camera_keys=[robot0_eye_in_hand]",
    ]
    assert train_in_process(resume) == 2
    assert (
        "was trained without cameras ['observation.images.robot0_agentview_right']" in capsys.readouterr().err
    )


def test_an_unknown_camera_is_one_line_before_training(robocasa_root, tmp_path, capsys) -> None:
    # In this process: the console's one-line errors are checked in a subprocess in test_cli.
    from lerobot_ext.cli.train import main as train_main

    args = [*dataset_flags(robocasa_root), *TINY_DIFFUSION, f"--output_dir={tmp_path / 'run'}"]
    assert train_main([*args, "--camera_keys=[wrist]"]) == 2
    stderr = capsys.readouterr().err
    error = [line for line in stderr.splitlines() if "ERROR lerobot-ext" in line]
    assert len(error) == 1 and "--camera_keys: unknown camera(s) ['wrist']" in error[0]
    assert "Traceback" not in stderr
    assert not (tmp_path / "run" / "checkpoints").exists()
