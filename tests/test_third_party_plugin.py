"""A third-party plugin package written against the public API only does what a built-in does:
adds its own flag and a transform with a processor step, trains, resumes, and deploys in a
process that never imports lerobot-ext. The package is tests/third_party/lerobot_ext_calibration."""

from __future__ import annotations

import ast
import json
import os
import shutil
from pathlib import Path

import pytest
from helpers import REPO, TINY_DIFFUSION, dataset_flags, deploy_checkpoint, read_json, run_cli

PACKAGE = REPO / "tests" / "third_party" / "lerobot_ext_calibration"
# What lerobot-ext documents as its public API for plugins (README, "Hooks").
PUBLIC = {
    "lerobot_ext",
    "lerobot_ext.dataset_changes",
    "lerobot_ext.errors",
    "lerobot_ext.layout",
    "lerobot_ext.adapters.base",
    "lerobot_ext.plugins",
}


def install(site: Path) -> dict[str, str]:
    """Make the package importable and discoverable (an installed distribution with its entry point)."""
    shutil.copytree(PACKAGE / "lerobot_ext_calibration", site / "lerobot_ext_calibration")
    info = site / "lerobot_ext_calibration-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: lerobot-ext-calibration\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[lerobot_ext]\ncalibration = lerobot_ext_calibration.plugin\n")
    return {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}


def test_the_plugin_imports_nothing_but_the_public_api() -> None:
    imported = set()
    for path in (PACKAGE / "lerobot_ext_calibration").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    ours = {name for name in imported if name.split(".")[0] == "lerobot_ext"}
    assert ours and ours <= PUBLIC, ours - PUBLIC
    steps = ast.parse((PACKAGE / "lerobot_ext_calibration" / "steps.py").read_text())
    assert not any(
        "lerobot_ext" in ast.unparse(node)
        for node in ast.walk(steps)
        if isinstance(node, ast.ImportFrom | ast.Import)
    )


ACT = """
first = pre.steps[0]
shifted = first({"observation": {"observation.state": torch.tensor([1.0, 2.0])}})["observation"]["observation.state"]
with torch.no_grad():
    action = post(policy.select_action(pre({"observation.state": torch.tensor([1.0, 2.0]),
                                             "observation.environment_state": torch.zeros(2)})))
print(json.dumps({"first_step": type(first).__module__ + "." + type(first).__name__,
                  "shifted": shifted.tolist(), "action": action.tolist(),
                  "lerobot_ext_imported": any(m == "lerobot_ext" or m.startswith("lerobot_ext.") for m in sys.modules)}))
"""


@pytest.mark.slow
def test_a_third_party_plugin_trains_resumes_and_deploys(bimodal_root, tmp_path) -> None:
    env = install(tmp_path / "site")
    listing = json.loads(run_cli(["lerobot-train-ext", "--plugins", "--json"], env=env).stdout)
    mine = next(p for p in listing["plugins"] if p["name"] == "calibration")
    assert mine["status"] == "loaded" and mine["registered"] == {"config_fields": ["state_offsets"]}
    assert mine["hooks"] == ["check_checkpoint", "configure", "register_config_fields", "transform_dataset"]
    help_text = run_cli(["lerobot-train-ext", "--help", "--policy.type=diffusion"], env=env).stdout
    assert "--state_offsets: list[float]  [plugin calibration]" in help_text

    out = tmp_path / "run"
    job = [*dataset_flags(bimodal_root), *TINY_DIFFUSION, f"--output_dir={out}"]
    trained = run_cli(["lerobot-train-ext", *job, "--steps=2", "--state_offsets=[0.5,-1.0]"], env=env)
    assert "calibration: observation.state + offsets [0.5, -1.0]" in trained.stderr
    checkpoint = out / "checkpoints" / "last" / "pretrained_model"
    pre = read_json(checkpoint / "policy_preprocessor.json")
    assert pre["steps"][0] == {
        "class": "lerobot_ext_calibration.steps.StateOffsetStep",
        "config": {"offsets": [0.5, -1.0]},
    }

    # --resume brings the flag back from train_config.json: the step is there once, still 0.5/-1.
    config = checkpoint / "train_config.json"
    run_cli(["lerobot-train-ext", "--resume=true", f"--config_path={config}", "--steps=3"], env=env)
    resumed = out / "checkpoints" / "000003" / "pretrained_model"
    assert read_json(resumed / "train_config.json")["state_offsets"] == [0.5, -1.0]
    steps = [s.get("class") for s in read_json(resumed / "policy_preprocessor.json")["steps"]]
    assert steps.count("lerobot_ext_calibration.steps.StateOffsetStep") == 1
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

    # A robot loads the checkpoint with lerobot alone: the plugin's step is rebuilt and applied.
    deployed = deploy_checkpoint(resumed, ACT, env=env)
    assert deployed["first_step"] == "lerobot_ext_calibration.steps.StateOffsetStep"
    assert deployed["shifted"] == [1.5, 1.0]
    assert len(deployed["action"][0]) == 2
    assert deployed["lerobot_ext_imported"] is False
