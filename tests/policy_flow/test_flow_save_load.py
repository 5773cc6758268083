"""Checkpoints and processors: save_pretrained/from_pretrained round trips, lerobot's factories."""

import json

import torch
from lerobot.configs import PreTrainedConfig
from lerobot.policies.factory import get_policy_class, make_pre_post_processors
from lerobot.processor import DataProcessorPipeline, PolicyProcessorPipeline
from lerobot.utils.constants import POLICY_POSTPROCESSOR_DEFAULT_NAME, POLICY_PREPROCESSOR_DEFAULT_NAME

from lerobot_policy_flow import FlowConfig, FlowPolicy, make_flow_pre_post_processors
from lerobot_policy_flow.processor_flow import make_flow_pre_post_processors as direct_factory


def test_policy_save_load_round_trip(make_policy, make_obs, tmp_path):
    policy = make_policy(seed=0, ode_solver="heun", time_sampling="uniform", num_inference_steps=3)
    # Move the weights away from their initial values so loading really has to read the file.
    with torch.no_grad():
        for p in policy.parameters():
            p.add_(0.01 * torch.randn_like(p))
    policy.eval()
    obs = make_obs(4, n_obs_steps=2)
    expected = policy.predict_action_chunk(obs, seed=3)

    policy.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["type"] == "flow"
    assert saved["ode_solver"] == "heun" and saved["num_inference_steps"] == 3
    assert "noise_scheduler_type" not in saved and "prediction_type" not in saved
    assert (tmp_path / "model.safetensors").is_file()

    torch.manual_seed(999)  # a fresh policy would get different weights
    assert (make_policy(seed=999).eval().predict_action_chunk(obs, seed=3) - expected).abs().max() > 1e-4

    loaded = FlowPolicy.from_pretrained(tmp_path)
    assert isinstance(loaded.config, FlowConfig)
    assert loaded.config.ode_solver == "heun" and loaded.config.time_sampling == "uniform"
    assert not loaded.training
    for (name, a), (_, b) in zip(policy.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    torch.testing.assert_close(loaded.predict_action_chunk(obs, seed=3), expected, rtol=0, atol=0)
    other_seed = loaded.predict_action_chunk(obs, seed=4)
    assert (other_seed - expected).abs().max() > 1e-3

    # lerobot resolves config and policy class from the checkpoint by convention.
    assert isinstance(PreTrainedConfig.from_pretrained(tmp_path), FlowConfig)
    assert get_policy_class("flow") is FlowPolicy


def test_image_policy_save_load_round_trip(make_policy, make_obs, tmp_path):
    policy = make_policy(num_cameras=1, seed=0).eval()
    obs = make_obs(2, num_cameras=1)
    expected = policy.select_action(dict(obs), seed=1)
    policy.save_pretrained(tmp_path)
    torch.manual_seed(5)
    loaded = FlowPolicy.from_pretrained(tmp_path)
    torch.testing.assert_close(loaded.select_action(dict(obs), seed=1), expected, rtol=0, atol=0)


def _raw_sample():
    return {
        "observation.state": torch.tensor([2.0, 0.0, -2.0]),
        "observation.environment_state": torch.tensor([-1.0, 1.0, 3.0, 0.0]),
        "observation.images.top": torch.full((3, 64, 64), 0.75),
        "action": torch.tensor([4.0, -2.0]),
    }


def _check_pipelines(pre, post):
    out = pre(_raw_sample())
    # Batch dim added; STATE/ACTION min-max normalised to [-1, 1]; VISUAL mean/std normalised.
    torch.testing.assert_close(out["observation.state"], torch.tensor([[1.0, 0.0, -1.0]]))
    torch.testing.assert_close(out["action"], torch.tensor([[1.0, -0.5]]))
    torch.testing.assert_close(out["observation.images.top"], torch.ones(1, 3, 64, 64))
    torch.testing.assert_close(post(torch.tensor([[0.5, -1.0]])), torch.tensor([[2.0, -4.0]]))
    return out


def test_processors_save_load_round_trip(make_config, dataset_stats, tmp_path):
    cfg = make_config(num_cameras=1)
    pre, post = make_flow_pre_post_processors(cfg, dataset_stats=dataset_stats)
    assert isinstance(pre, DataProcessorPipeline) and isinstance(post, DataProcessorPipeline)
    expected = _check_pipelines(pre, post)

    pre.save_pretrained(tmp_path)
    post.save_pretrained(tmp_path)
    pre2 = PolicyProcessorPipeline.from_pretrained(
        tmp_path, config_filename=f"{POLICY_PREPROCESSOR_DEFAULT_NAME}.json"
    )
    post2 = PolicyProcessorPipeline.from_pretrained(
        tmp_path,
        config_filename=f"{POLICY_POSTPROCESSOR_DEFAULT_NAME}.json",
        to_transition=post.to_transition,
        to_output=post.to_output,
    )
    out = _check_pipelines(pre2, post2)
    for key in ("observation.state", "action", "observation.images.top"):
        torch.testing.assert_close(out[key], expected[key])

    # The README's loading path: lerobot's factory with pretrained_path.
    pre3, post3 = make_pre_post_processors(cfg, pretrained_path=str(tmp_path))
    _check_pipelines(pre3, post3)


def test_lerobot_factory_resolves_flow_processors_by_convention(make_config, dataset_stats, monkeypatch):
    cfg = make_config(num_cameras=1)
    import lerobot_policy_flow.processor_flow as processor_module

    calls = []

    def spy(config, dataset_stats=None):
        calls.append(config)
        return direct_factory(config, dataset_stats=dataset_stats)

    monkeypatch.setattr(processor_module, "make_flow_pre_post_processors", spy)
    pre, post = make_pre_post_processors(cfg, dataset_stats=dataset_stats)
    assert calls == [cfg]
    ours = direct_factory(cfg, dataset_stats=dataset_stats)
    assert [type(s) for s in pre.steps] == [type(s) for s in ours[0].steps]
    assert [type(s) for s in post.steps] == [type(s) for s in ours[1].steps]
    _check_pipelines(pre, post)
