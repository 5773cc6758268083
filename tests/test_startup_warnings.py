"""The ``startup_warnings`` plugin: a frozen random VLM, task text a tokenizer cuts or lacks, depth
cameras into an RGB backbone - each one warning with its fix, before the first step."""

from __future__ import annotations

import types

import pytest
from helpers import TINY_SMOLVLA, dataset_flags, train_in_process

from lerobot_ext import ConfigError
from lerobot_ext.startup_warnings.checks import (
    depth_into_rgb,
    frozen_random_vlm,
    task_text,
    unnormalised_env_state,
)


def smolvla_job(root, vlm, out, *extra):
    return [*dataset_flags(root), *TINY_SMOLVLA, f"--policy.vlm_model_name={vlm}", "--steps=1",
            "--save_checkpoint=false", f"--output_dir={out}", *extra]  # fmt: skip


def warnings_in(err: str) -> list[str]:
    return [line for line in err.splitlines() if "lerobot-ext" in line and "WARNING" in line.upper()]


def test_smolvla_with_a_frozen_random_vlm_and_cut_task_text_is_warned_once(
    robocasa_root, tiny_smolvlm, tmp_path, capsys
):
    # Upstream's defaults for --policy.type=smolvla: random VLM weights, frozen. The demo task is
    # 9 words; a 4-token limit cuts it in every episode.
    assert (
        train_in_process(
            smolvla_job(robocasa_root, tiny_smolvlm, tmp_path / "a", "--policy.tokenizer_max_length=4")
        )
        == 0
    )
    err = capsys.readouterr().err
    frozen = [line for line in err.splitlines() if "built with random weights" in line]
    assert len(frozen) == 1 and "--policy.train_expert_only=false" in frozen[0]
    cut = [line for line in err.splitlines() if "is cut" in line]
    assert len(cut) == 1
    assert "the task text of 4 of 4 episodes is longer than the tokenizer's 4 tokens" in cut[0]
    assert "--policy.tokenizer_max_length=" in cut[0]
    # Training the VLM too, with room for the task: nothing to say.
    assert (
        train_in_process(
            smolvla_job(robocasa_root, tiny_smolvlm, tmp_path / "b", "--policy.train_expert_only=false")
        )
        == 0
    )
    err = capsys.readouterr().err
    assert "built with random weights" not in err and "is cut" not in err


def test_the_checks():
    cfg = types.SimpleNamespace(
        type="smolvla",
        pretrained_path=None,
        load_vlm_weights=False,
        train_expert_only=True,
        vlm_model_name="x",
    )
    assert "random weights" in frozen_random_vlm(cfg)
    assert frozen_random_vlm(types.SimpleNamespace(**{**vars(cfg), "pretrained_path": "/ckpt"})) is None
    assert frozen_random_vlm(types.SimpleNamespace(**{**vars(cfg), "load_vlm_weights": True})) is None
    assert frozen_random_vlm(types.SimpleNamespace(type="diffusion", pretrained_path=None)) is None
    words = lambda text: len(text.split())  # noqa: E731
    found = task_text([["pick it up"], [], ["pick it up and put it down"]], words, 5, "pi0")
    assert found[0].startswith("pi0: 1 of 3 episodes have no task text (e.g. episode 1)")
    assert "the task text of 1 of 3 episodes is longer than the tokenizer's 5 tokens (up to 7)" in found[1]
    assert task_text([["pick it up"]], words, 5, "pi0") == []
    images = ["observation.images.head", "observation.images.head_depth"]
    warning = depth_into_rgb(["observation.images.head_depth"], images, "diffusion")
    assert "observation.images.head_depth is a depth camera" in warning and "--camera_keys=[head]" in warning
    assert depth_into_rgb(["observation.images.head_depth"], ["observation.images.head"], "diffusion") is None


def test_an_environment_state_the_policy_does_not_normalise_is_named_with_the_flag_that_does():
    """On upstream's own DiffusionConfig: its default mapping has no ENV entry. The flag offered
    keeps the policy's other modes and parses back into the same config field."""
    import json

    from lerobot.configs.types import FeatureType, NormalizationMode, PolicyFeature
    from lerobot.policies.diffusion.configuration_diffusion import DiffusionConfig

    features = {
        "observation.state": PolicyFeature(type=FeatureType.STATE, shape=(14,)),
        "observation.environment_state": PolicyFeature(type=FeatureType.ENV, shape=(6,)),
    }
    cfg = DiffusionConfig(input_features=features, output_features={})
    warning = unnormalised_env_state(cfg)
    assert warning.startswith("diffusion: observation.environment_state (6) reaches the network unnormalised")
    flag = json.loads(warning.split("--policy.normalization_mapping=")[1].strip("'"))
    assert flag == {**{k: v.value for k, v in cfg.normalization_mapping.items()}, "ENV": "MIN_MAX"}
    # With the mapping the flag gives, or an explicit identity, or no environment state: silent.
    normalised = {**cfg.normalization_mapping, "ENV": NormalizationMode.MIN_MAX}
    assert (
        unnormalised_env_state(DiffusionConfig(input_features=features, normalization_mapping=normalised))
        is None
    )
    identity = {**cfg.normalization_mapping, "ENV": NormalizationMode.IDENTITY}
    assert (
        unnormalised_env_state(DiffusionConfig(input_features=features, normalization_mapping=identity))
        is None
    )
    state_only = {"observation.state": features["observation.state"]}
    assert unnormalised_env_state(DiffusionConfig(input_features=state_only)) is None


def test_smolvlas_default_vlm_offline_and_uncached_is_one_line_before_anything_is_built(
    robocasa_root, tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty_cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty_cache"))
    out = tmp_path / "run"
    args = [*dataset_flags(robocasa_root), *TINY_SMOLVLA, "--steps=1", f"--output_dir={out}"]
    args = [a for a in args if not a.startswith("--policy.load_vlm_weights")]  # upstream's default VLM
    assert train_in_process(args) == 2
    err = capsys.readouterr().err
    line = next(x for x in err.splitlines() if "HF_HUB_OFFLINE is set" in x)
    assert "--policy.vlm_model_name=HuggingFaceTB/SmolVLM2-500M-Video-Instruct" in line
    assert str(tmp_path / "empty_cache") in line and "gated repo" in line
    assert "Traceback" not in err and not out.exists()


def test_a_missing_policy_extra_names_the_install(monkeypatch):
    from lerobot_ext.long_runs import policy_extras

    real = policy_extras.importlib.util.find_spec
    monkeypatch.setattr(
        policy_extras.importlib.util, "find_spec", lambda name: None if name == "num2words" else real(name)
    )
    with pytest.raises(ConfigError) as excinfo:
        policy_extras.check_policy_extras("smolvla")
    assert str(excinfo.value) == (
        "--policy.type=smolvla needs num2words: pip install -e \".[vla]\" (or pip install 'lerobot[smolvla]')"
    )
    policy_extras.check_policy_extras("diffusion")  # nothing beyond the training extras
    assert policy_extras.transformers_range() is not None and policy_extras.missing_extras("pi0") == []
