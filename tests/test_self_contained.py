"""Self-contained checkpoints: a SmolVLA checkpoint carries its VLM's config, tokenizer and
processor files and names them relative to itself, so it resumes, fine-tunes and acts offline
with the VLM's folder gone; the ``checkpoint_loading`` hook that lets every lerobot-ext load find
them; and the copy from a Hub cache (pi0's PaliGemma tokenizer) without the weights."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest
from helpers import (
    REPO,
    TINY_ACT,
    StopAt,
    dataset_flags,
    load_weights,
    same_tensors,
    smolvla_command,
    train_in_process,
)

from lerobot_ext import LoadOverrides, PluginConflictError, hookimpl
from lerobot_ext.load_overrides import merged, with_processor_overrides
from lerobot_ext.self_contained import bundle
from lerobot_ext.self_contained.bundle import MANIFEST, bundle_folder
from lerobot_ext.self_contained.resolve import load_overrides
from lerobot_ext.upstream.versions import for_installed


@pytest.mark.slow
def test_a_smolvla_checkpoint_resumes_fine_tunes_and_acts_with_its_vlm_folder_gone(
    robocasa_root, tiny_smolvlm, tmp_path, monkeypatch, extra_entry_points
):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    vlm = shutil.copytree(tiny_smolvlm, tmp_path / "vlm")
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert train_in_process(smolvla_command(robocasa_root, vlm, straight, "--steps=4", "--save_freq=2")) == 0
    stopper = StopAt(2)
    extra_entry_points("stopper", stopper)
    command = smolvla_command(robocasa_root, vlm, resumed, "--steps=4", "--save_freq=2", "--auto_resume=true")
    assert train_in_process(command) == 0

    model = resumed / "checkpoints" / "000002" / "pretrained_model"
    copied = {p.name for p in (model / "vlm").iterdir()}
    assert {"config.json", "tokenizer.json", "processor_config.json"} <= copied
    assert not any(name.endswith(".safetensors") for name in copied)
    config = json.loads((model / "config.json").read_text())
    assert (config["vlm_model_name"], config["load_vlm_weights"]) == ("vlm", False)
    steps = json.loads((model / "policy_preprocessor.json").read_text())["steps"]
    # lerobot 0.6.2 saves the tokenizer into the checkpoint itself (a step artifact, tokenizer/);
    # on 0.6.1 the tokenizer step names the VLM's copy.
    [tokenizer] = [s["config"]["tokenizer_name"] for s in steps if "tokenizer_name" in s.get("config", {})]
    assert tokenizer == for_installed({"0.6.1": "vlm", "0.6.2": "tokenizer"})
    assert (model / tokenizer / "tokenizer.json").is_file()
    assert json.loads((model / MANIFEST).read_text())["vlm"]["source"] == str(vlm)

    shutil.rmtree(vlm)  # from here on, nothing but the checkpoints
    # The same command continues (its saved config still names the gone folder) and ends where
    # the uninterrupted run does, bit for bit.
    stopper.step = None
    assert train_in_process(command) == 0
    final = resumed / "checkpoints" / "000004"
    assert same_tensors(load_weights(final), load_weights(straight / "checkpoints" / "000004"))
    assert (final / "pretrained_model" / "vlm" / "tokenizer.json").is_file()

    # Stock lerobot acts from the folder (the README's deploy example), run from elsewhere.
    example = subprocess.run(
        [sys.executable, str(REPO / "examples" / "deploy_checkpoint.py"), str(final / "pretrained_model"),
         str(robocasa_root)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env={**_env(), "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    assert example.returncode == 0, example.stderr[-3000:]
    assert "policy smolvla: robot state (53,)" in example.stdout

    # Fine-tuning from it: --policy.path alone, offline; the new checkpoint carries the files too.
    tuned = tmp_path / "tuned"
    fine_tune = [*dataset_flags(robocasa_root), f"--policy.path={final / 'pretrained_model'}",
                 "--policy.push_to_hub=false", "--wandb.enable=false", "--num_workers=0", "--batch_size=2",
                 "--steps=1", "--save_freq=1", f"--output_dir={tuned}"]  # fmt: skip
    assert train_in_process(fine_tune) == 0
    tuned_model = tuned / "checkpoints" / "000001" / "pretrained_model"
    assert json.loads((tuned_model / "config.json").read_text())["vlm_model_name"] == "vlm"
    assert (tuned_model / "vlm" / "tokenizer.json").is_file()


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


def _fake_hub_snapshot(cache: Path, repo_id: str, files: dict[str, str]) -> Path:
    """A repo as huggingface_hub caches it: blobs linked from snapshots/<revision>/, refs/main."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / "0123abc"
    (repo / "blobs").mkdir(parents=True)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abc")
    for name, text in files.items():
        blob = repo / "blobs" / f"blob_{name}"
        blob.write_text(text)
        (snapshot / name).symlink_to(blob)
    return snapshot


def test_a_tokenizer_from_the_hub_cache_is_copied_without_weights_and_found_again(tmp_path, monkeypatch):
    from huggingface_hub import constants

    cache = tmp_path / "hub"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    repo = "google/paligemma-3b-pt-224"  # what pi0's and pi05's preprocessors name
    _fake_hub_snapshot(cache, repo, {
        "tokenizer.json": "{}", "tokenizer_config.json": "{}", "config.json": "{}",
        "model-00001-of-00002.safetensors": "weights", "model.safetensors.index.json": "{}",
    })  # fmt: skip
    folder = tmp_path / "pretrained_model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"type": "pi0"}))
    steps = [
        {"registry_name": "tokenizer_processor", "config": {"tokenizer_name": repo, "max_length": 48}},
        {"class": "my_pkg.steps.OtherTokenizerStep", "config": {"tokenizer_name": "nowhere/at-all"}},
    ]
    (folder / "policy_preprocessor.json").write_text(
        json.dumps({"name": "policy_preprocessor", "steps": steps})
    )

    monkeypatch.setattr(bundle, "LARGEST_FILE", 1000)  # a 2 KB file stands for one too big to copy
    snapshot = next((cache / f"models--{repo.replace('/', '--')}" / "snapshots").iterdir())
    (snapshot / "training_log.txt").write_text("x" * 2000)

    missing = bundle_folder(folder)

    assert missing == [
        f"{snapshot / 'training_log.txt'} (over 0 MiB, not copied)",
        "policy_preprocessor.json:OtherTokenizerStep.tokenizer_name=nowhere/at-all",
    ]
    assert sorted(p.name for p in (folder / "tokenizer").iterdir()) == [
        "config.json", "tokenizer.json", "tokenizer_config.json",
    ]  # fmt: skip
    assert (
        not (folder / "tokenizer").is_symlink() and not (folder / "tokenizer" / "tokenizer.json").is_symlink()
    )
    saved = json.loads((folder / "policy_preprocessor.json").read_text())["steps"]
    assert [s["config"]["tokenizer_name"] for s in saved] == ["tokenizer", "nowhere/at-all"]
    assert json.loads((folder / "config.json").read_text()) == {"type": "pi0"}  # nothing there to copy
    # Loading points the step at the copy, from any working directory; a second save of the same
    # folder does nothing.
    overrides = load_overrides(folder, types.SimpleNamespace(type="pi0"))
    assert overrides == LoadOverrides(
        preprocessor={"tokenizer_processor": {"tokenizer_name": str(folder / "tokenizer")}}
    )
    assert bundle_folder(folder) == []


def test_a_policy_without_outside_files_is_left_alone(tmp_path):
    folder = tmp_path / "pretrained_model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"type": "act"}))
    assert bundle_folder(folder) == []
    assert sorted(p.name for p in folder.iterdir()) == ["config.json"]
    assert load_overrides(folder, types.SimpleNamespace(type="act")) is None


def test_load_overrides_merge_and_name_both_plugins_on_a_conflict():
    a = LoadOverrides(policy={"x": 1}, preprocessor={"step": {"k": "a"}})
    b = LoadOverrides(policy={"x": 1}, preprocessor={"step": {"j": "b"}}, postprocessor={"post": {"m": 0}})
    assert merged([("a", a), ("b", b)]) == LoadOverrides(
        policy={"x": 1}, preprocessor={"step": {"k": "a", "j": "b"}}, postprocessor={"post": {"m": 0}}
    )
    with pytest.raises(PluginConflictError, match=re.escape("plugins 'a' and 'c' set preprocessor step.k")):
        merged([("a", a), ("c", LoadOverrides(preprocessor={"step": {"k": "c"}}))])
    # What the caller passed for an argument wins over a plugin's.
    kwargs = with_processor_overrides(
        {"preprocessor_overrides": {"step": {"k": "caller"}}}, merged([("a", a)])
    )
    assert kwargs == {"preprocessor_overrides": {"step": {"k": "caller"}}}


@pytest.mark.slow
def test_checkpoint_loading_changes_what_a_fine_tuned_run_loads(robocasa_root, tmp_path, extra_entry_points):
    first = tmp_path / "first"
    base = [*dataset_flags(robocasa_root), *TINY_ACT, "--steps=1", "--save_freq=1"]
    assert train_in_process([*base, f"--output_dir={first}"]) == 0
    saved = first / "checkpoints" / "000001" / "pretrained_model"
    seen = []

    class Loader:
        @hookimpl
        def checkpoint_loading(self, policy_cfg, pretrained_path):
            seen.append((policy_cfg.type, pretrained_path))
            return LoadOverrides(
                policy={"n_action_steps": 3}, preprocessor={"normalizer_processor": {"eps": 0.25}}
            )

    extra_entry_points("loader", Loader())
    tuned = tmp_path / "tuned"
    command = [*dataset_flags(robocasa_root), f"--policy.path={saved}", "--policy.push_to_hub=false",
               "--wandb.enable=false", "--num_workers=0", "--batch_size=2", "--steps=1", "--save_freq=1",
               f"--output_dir={tuned}"]  # fmt: skip
    assert train_in_process(command) == 0
    assert seen == [("act", saved)]  # once, though the policy and its processors load separately
    model = tuned / "checkpoints" / "000001" / "pretrained_model"
    assert json.loads((model / "config.json").read_text())["n_action_steps"] == 3
    steps = json.loads((model / "policy_preprocessor.json").read_text())["steps"]
    assert [s["config"]["eps"] for s in steps if s.get("registry_name") == "normalizer_processor"] == [0.25]


def test_lerobot_eval_ext_loads_the_evaluated_folders_processors_with_the_plugins_overrides(tmp_path):
    from lerobot_ext.seams import EVAL_SEAMS, eval_make_pre_post_processors

    assert eval_make_pre_post_processors.SEAM in EVAL_SEAMS
    received = {}

    def upstream(policy_cfg, pretrained_path=None, pretrained_revision=None, **kwargs):
        received.update(kwargs, pretrained_path=pretrained_path)
        return "pre", "post"

    asked = []

    def load_overrides(policy_cfg, pretrained_path):
        asked.append(pretrained_path)
        return LoadOverrides(preprocessor={"tokenizer_processor": {"tokenizer_name": "/abs/vlm"}})

    run = types.SimpleNamespace(load_overrides=load_overrides)
    wrapped = eval_make_pre_post_processors.make_wrapper(upstream, run)
    upstreams_own = {"device_processor": {"device": "cpu"}}
    assert wrapped(policy_cfg=object(), pretrained_path="ckpt", preprocessor_overrides=upstreams_own) == (
        "pre",
        "post",
    )
    assert asked == ["ckpt"]
    assert received["preprocessor_overrides"] == {
        "tokenizer_processor": {"tokenizer_name": "/abs/vlm"},
        "device_processor": {"device": "cpu"},
    }
    # A policy made fresh (no folder) is left to upstream.
    received.clear()
    wrapped(policy_cfg=object(), pretrained_path=None)
    assert asked == ["ckpt"] and "preprocessor_overrides" not in received
