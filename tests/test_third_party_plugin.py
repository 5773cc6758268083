"""A third-party plugin package written against the public API only does what a built-in does:
adds its own flags, a dataset change with a preprocessor and a postprocessor step, wraps the
training items, refuses a checkpoint trained otherwise, adds a ``lerobot-ext`` command, trains,
resumes, and deploys in a process that never imports lerobot-ext. The package is
tests/third_party/lerobot_ext_calibration."""

from __future__ import annotations

import ast
import importlib
import json
import os
import shutil
from pathlib import Path

import pytest
import torch
from helpers import REPO, TINY_DIFFUSION, dataset_flags, deploy_checkpoint, read_json, run_cli

from lerobot_ext.cli import tool

PACKAGE = REPO / "tests" / "third_party" / "lerobot_ext_calibration"
STATE_STEP = "lerobot_ext_calibration.steps.StateOffsetStep"
ACTION_STEP = "lerobot_ext_calibration.steps.ActionOffsetStep"


def install(site: Path) -> dict[str, str]:
    """Make the package importable and discoverable (an installed distribution with its entry point)."""
    shutil.copytree(PACKAGE / "lerobot_ext_calibration", site / "lerobot_ext_calibration")
    info = site / "lerobot_ext_calibration-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: lerobot-ext-calibration\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[lerobot_ext]\ncalibration = lerobot_ext_calibration.plugin\n")
    return {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}


@pytest.fixture
def calibration(monkeypatch, extra_entry_points):
    """The plugin module, imported in this process and loaded as the ``calibration`` plugin."""
    monkeypatch.syspath_prepend(str(PACKAGE))
    module = importlib.import_module("lerobot_ext_calibration.plugin")
    extra_entry_points("calibration", module)
    return module


def test_the_plugin_imports_nothing_but_the_public_api() -> None:
    import lerobot_ext

    used = set()
    for path in (PACKAGE / "lerobot_ext_calibration").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module.split(".")[0] == "lerobot_ext":
                    used.update((node.module, alias.name) for alias in node.names)
            elif isinstance(node, ast.Import):
                assert not any(alias.name.startswith("lerobot_ext") for alias in node.names), path
    not_public = {
        (module, name) for module, name in used if module != "lerobot_ext" or name not in lerobot_ext.__all__
    }
    assert used and not not_public, not_public
    steps = ast.parse((PACKAGE / "lerobot_ext_calibration" / "steps.py").read_text())
    assert not any(
        "lerobot_ext" in ast.unparse(node)
        for node in ast.walk(steps)
        if isinstance(node, ast.ImportFrom | ast.Import)
    )


def test_wrap_dataset_gives_the_training_items_calibrated_actions(calibration, bimodal_root) -> None:
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    dataset = LeRobotDataset("local/bimodal", root=bimodal_root)
    cfg = type("Cfg", (), {"action_offsets": [0.25, -2.0]})()
    wrapped = calibration.wrap_dataset(cfg=cfg, dataset=dataset, role="train")
    assert len(wrapped) == len(dataset) and wrapped.meta is dataset.meta
    for index in (0, len(dataset) - 1):
        item, raw = wrapped[index], dataset[index]
        assert torch.allclose(item["action"], raw["action"] + torch.tensor([0.25, -2.0]))
        assert torch.equal(item["observation.state"], raw["observation.state"])
    cfg.action_offsets = []
    assert calibration.wrap_dataset(cfg=cfg, dataset=dataset, role="train") is None


def test_its_command_refuses_a_folder_that_is_not_a_checkpoint(calibration, tmp_path, capsys) -> None:
    assert tool.main(["calibration", str(tmp_path)]) == 2
    # (the torchcodec notice is printed once per process, by whichever command comes first)
    err = [line for line in capsys.readouterr().err.strip().splitlines() if "torchcodec" not in line]
    assert err == [
        f"ERROR lerobot-ext: {tmp_path} is not a checkpoint folder (no policy_preprocessor.json and "
        "policy_postprocessor.json); pass .../checkpoints/<step>/pretrained_model"
    ]


ACT = """
from lerobot.processor import TransitionKey
first, last = pre.steps[0], post.steps[-1]
shifted = first({TransitionKey.OBSERVATION: {"observation.state": torch.tensor([1.0, 2.0])}})
raw = last({TransitionKey.ACTION: torch.tensor([[1.0, 1.0]])})
with torch.no_grad():
    action = post(policy.select_action(pre({"observation.state": torch.tensor([1.0, 2.0]),
                                             "observation.environment_state": torch.zeros(2)})))
print(json.dumps({"first_step": type(first).__module__ + "." + type(first).__name__,
                  "last_step": type(last).__module__ + "." + type(last).__name__,
                  "shifted": shifted[TransitionKey.OBSERVATION]["observation.state"].tolist(),
                  "raw_command": raw[TransitionKey.ACTION].tolist(), "action": action.tolist(),
                  "lerobot_ext_imported": any(m == "lerobot_ext" or m.startswith("lerobot_ext.") for m in sys.modules)}))
"""


@pytest.mark.slow
def test_a_third_party_plugin_trains_resumes_and_deploys(bimodal_root, tmp_path, calibration, capsys) -> None:
    env = install(tmp_path / "site")
    listing = json.loads(run_cli(["lerobot-train-ext", "--plugins", "--json"], env=env).stdout)
    mine = next(p for p in listing["plugins"] if p["name"] == "calibration")
    assert mine["status"] == "loaded"
    assert mine["registered"] == {
        "config_fields": ["state_offsets", "action_offsets"],
        "commands": ["calibration"],
    }
    assert mine["hooks"] == [
        "check_checkpoint",
        "configure",
        "register_commands",
        "register_config_fields",
        "transform_dataset",
        "wrap_dataset",
    ]
    help_text = run_cli(["lerobot-train-ext", "--help", "--policy.type=diffusion"], env=env).stdout
    assert "--state_offsets: list[float]  [plugin calibration]" in help_text
    assert "--action_offsets: list[float]  [plugin calibration]" in help_text

    out = tmp_path / "run"
    job = [*dataset_flags(bimodal_root), *TINY_DIFFUSION, f"--output_dir={out}"]
    offsets = ["--state_offsets=[0.5,-1.0]", "--action_offsets=[0.25,-2.0]"]
    trained = run_cli(["lerobot-train-ext", *job, "--steps=2", *offsets], env=env)
    assert (
        "calibration: observation.state + offsets [0.5, -1.0]; action + offsets [0.25, -2.0]"
        in trained.stderr
    )
    assert "train items: action + offsets [0.25, -2.0] (calibrated targets)" in trained.stderr  # wrap_dataset
    checkpoint = out / "checkpoints" / "last" / "pretrained_model"
    pre = read_json(checkpoint / "policy_preprocessor.json")
    post = read_json(checkpoint / "policy_postprocessor.json")
    assert pre["steps"][0] == {"class": STATE_STEP, "config": {"offsets": [0.5, -1.0]}}
    assert post["steps"][-1] == {"class": ACTION_STEP, "config": {"offsets": [0.25, -2.0]}}

    # --resume brings the flags back from train_config.json: each step is there once, unchanged.
    config = checkpoint / "train_config.json"
    run_cli(["lerobot-train-ext", "--resume=true", f"--config_path={config}", "--steps=3"], env=env)
    resumed = out / "checkpoints" / "000003" / "pretrained_model"
    saved = read_json(resumed / "train_config.json")
    assert (saved["state_offsets"], saved["action_offsets"]) == ([0.5, -1.0], [0.25, -2.0])
    steps = [s.get("class") for s in read_json(resumed / "policy_preprocessor.json")["steps"]]
    steps += [s.get("class") for s in read_json(resumed / "policy_postprocessor.json")["steps"]]
    assert steps.count(STATE_STEP) == 1 and steps.count(ACTION_STEP) == 1
    # ... and other offsets on resume are refused by the plugin's checkpoint check.
    refused = run_cli(
        [
            "lerobot-train-ext",
            "--resume=true",
            f"--config_path={config}",
            "--steps=4",
            "--state_offsets=[0.0,0.0]",
        ],
        env=env,
        check=False,
    )
    assert refused.returncode == 2
    assert (
        "was calibrated with --state_offsets=[0.5, -1.0], but this run asks for [0.0, 0.0]" in refused.stderr
    )

    # The plugin's lerobot-ext command reads the checkpoint through the public API (run in this
    # process, where the plugin is loaded too: one interpreter start less).
    capsys.readouterr()
    assert tool.main(["calibration", str(resumed)]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert shown == [
        f"{resumed}: --state_offsets=[0.5, -1.0]",
        f"{resumed}: --action_offsets=[0.25, -2.0]",
    ]

    # A robot loads the checkpoint with lerobot alone - lerobot-ext cannot even be imported there:
    # the plugin's steps are rebuilt and applied.
    robot = tmp_path / "robot_site" / "lerobot_ext"
    robot.mkdir(parents=True)
    (robot / "__init__.py").write_text("raise ImportError('lerobot-ext is not installed on this robot')\n")
    robot_env = {"PYTHONPATH": os.pathsep.join([str(robot.parent), env["PYTHONPATH"]])}
    deployed = deploy_checkpoint(resumed, ACT, env=robot_env)
    assert deployed["first_step"] == STATE_STEP and deployed["last_step"] == ACTION_STEP
    assert deployed["shifted"] == [1.5, 1.0]
    assert deployed["raw_command"] == [[0.75, 3.0]]  # calibrated action - offsets
    assert len(deployed["action"][0]) == 2
    assert deployed["lerobot_ext_imported"] is False
