"""Shared fixtures for the `flow` policy tests: tiny configs, synthetic stats and batches.

Everything here is synthetic (no LeRobot datasets, no Hub downloads) and small enough to train
for a few hundred steps on a 2-core CPU.
"""

import pytest
import torch
from lerobot.configs.types import FeatureType, PolicyFeature
from lerobot.utils.constants import ACTION, OBS_ENV_STATE, OBS_STATE

from lerobot_policy_flow import FlowConfig, FlowPolicy

STATE_DIM = 3
ENV_DIM = 4
ACTION_DIM = 2
IMAGE_KEY = "observation.images.top"


def tiny_features(num_cameras: int = 0, image_shape=(3, 64, 64)):
    inputs = {
        OBS_STATE: PolicyFeature(type=FeatureType.STATE, shape=(STATE_DIM,)),
        OBS_ENV_STATE: PolicyFeature(type=FeatureType.ENV, shape=(ENV_DIM,)),
    }
    for i in range(num_cameras):
        key = IMAGE_KEY if i == 0 else f"observation.images.cam{i}"
        inputs[key] = PolicyFeature(type=FeatureType.VISUAL, shape=image_shape)
    outputs = {ACTION: PolicyFeature(type=FeatureType.ACTION, shape=(ACTION_DIM,))}
    return inputs, outputs


def tiny_config(num_cameras: int = 0, **overrides) -> FlowConfig:
    inputs, outputs = tiny_features(num_cameras)
    kwargs = dict(
        input_features=inputs,
        output_features=outputs,
        device="cpu",
        n_obs_steps=2,
        horizon=8,
        n_action_steps=7,
        drop_n_last_frames=0,
        down_dims=(16, 32),
        diffusion_step_embed_dim=32,
        kernel_size=3,
        n_groups=4,
        num_inference_steps=4,
        pretrained_backbone_weights=None,
        use_group_norm=True,
        spatial_softmax_num_keypoints=8,
        crop_shape=(56, 56) if num_cameras else None,
    )
    kwargs.update(overrides)
    return FlowConfig(**kwargs)


@pytest.fixture(autouse=True)
def single_torch_thread():
    """Tiny models run fastest (and with stable timing on a busy 2-core box) on one intra-op thread."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def make_config():
    """Factory: make_config(num_cameras=0, **FlowConfig overrides) -> tiny FlowConfig."""
    return tiny_config


@pytest.fixture
def make_policy():
    """Factory: make_policy(num_cameras=0, seed=0, **overrides) -> FlowPolicy with tiny U-Net."""

    def _make(num_cameras: int = 0, seed: int = 0, **overrides) -> FlowPolicy:
        torch.manual_seed(seed)
        return FlowPolicy(tiny_config(num_cameras, **overrides))

    return _make


@pytest.fixture
def dataset_stats():
    """Synthetic normalisation statistics for the tiny features (with one camera)."""

    def vec(dim, lo, hi):
        return {
            "min": torch.full((dim,), float(lo)),
            "max": torch.full((dim,), float(hi)),
            "mean": torch.zeros(dim),
            "std": torch.ones(dim),
        }

    return {
        OBS_STATE: vec(STATE_DIM, -2, 2),
        OBS_ENV_STATE: vec(ENV_DIM, -1, 3),
        ACTION: vec(ACTION_DIM, -4, 4),
        IMAGE_KEY: {
            "mean": torch.full((3, 1, 1), 0.5),
            "std": torch.full((3, 1, 1), 0.25),
            "min": torch.zeros(3, 1, 1),
            "max": torch.ones(3, 1, 1),
        },
    }


@pytest.fixture
def make_obs():
    """Factory: make_obs(batch_size, n_obs_steps=None, num_cameras=0, seed=0) -> observation dict.

    n_obs_steps=None gives single-step observations (B, ...) as used by select_action;
    an int gives a time axis (B, n_obs_steps, ...) as in training batches.
    """

    def _make(batch_size: int, n_obs_steps: int | None = None, num_cameras: int = 0, seed: int = 0):
        gen = torch.Generator().manual_seed(seed)
        lead = (batch_size,) if n_obs_steps is None else (batch_size, n_obs_steps)
        obs = {
            OBS_STATE: torch.randn(*lead, STATE_DIM, generator=gen),
            OBS_ENV_STATE: torch.randn(*lead, ENV_DIM, generator=gen),
        }
        inputs, _ = tiny_features(num_cameras)
        for key, ft in inputs.items():
            if ft.type is FeatureType.VISUAL:
                obs[key] = torch.rand(*lead, *ft.shape, generator=gen)
        return obs

    return _make


def train(policy: FlowPolicy, batch_fn, steps: int, lr: float = 1e-3) -> list[float]:
    """Plain torch training loop; returns the loss of every step."""
    policy.train()
    optimizer = torch.optim.Adam(policy.get_optim_params(), lr=lr)
    losses = []
    for step in range(steps):
        loss, _ = policy.forward(batch_fn(step))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    policy.eval()
    return losses


@pytest.fixture
def train_policy():
    """The `train(policy, batch_fn, steps, lr)` helper as a fixture."""
    return train
