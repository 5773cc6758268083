"""FlowPolicy internals: flow convention, loss reductions, ODE solvers, NFE, queues, seeds, images."""

import math

import pytest
import torch
from lerobot.policies.diffusion.modeling_diffusion import DiffusionRgbEncoder
from lerobot.utils.constants import ACTION, OBS_ENV_STATE, OBS_IMAGES, OBS_STATE
from torch import nn

from lerobot_policy_flow.modeling_flow import nfe_per_chunk

# Dimensions of the tiny features built in conftest.py.
STATE_DIM, ENV_DIM, ACTION_DIM = 3, 4, 2


class RecordingUnet(nn.Module):
    """Stand-in for the U-Net: v = field(x, t) where t = timestep / time_embed_scale."""

    def __init__(self, field, time_embed_scale):
        super().__init__()
        self.field = field
        self.scale = time_embed_scale
        self.timesteps = []
        self.dummy = nn.Parameter(torch.zeros(()))  # so device/dtype helpers find a parameter

    def forward(self, x, timestep, global_cond=None):
        self.timesteps.append(timestep.detach().clone())
        t = (timestep / self.scale).view(-1, 1, 1)
        return self.field(x, t)


def _count_unet_calls(policy):
    calls = []
    policy.flow.unet.register_forward_hook(lambda *args: calls.append(1))
    return calls


def _train_batch(make_obs, batch_size=6, horizon=8, seed=0):
    batch = make_obs(batch_size, n_obs_steps=2, seed=seed)
    gen = torch.Generator().manual_seed(seed + 100)
    batch[ACTION] = torch.randn(batch_size, horizon, ACTION_DIM, generator=gen)
    batch["action_is_pad"] = torch.zeros(batch_size, horizon, dtype=torch.bool)
    return batch


# ---------------------------------------------------------------------------------- convention
def test_loss_uses_documented_flow_convention(make_policy, make_obs):
    """x_t = t*noise + (1-t)*action, target = noise - action: an oracle that inverts exactly that
    path gets zero loss; an oracle for the opposite convention does not."""
    policy = make_policy()
    batch = _train_batch(make_obs)
    action = batch[ACTION]
    scale = policy.config.time_embed_scale

    def oracle(x, t):  # recover noise from x_t under our convention, return noise - action
        noise = (x - (1 - t) * action) / t
        return noise - action

    policy.flow.unet = RecordingUnet(oracle, scale)
    torch.manual_seed(0)
    loss, out = policy.forward(batch)
    assert loss.item() < 1e-6
    assert out is None  # no output dict: reading the loss would sync the GPU before backward
    t = policy.flow.unet.timesteps[0] / scale
    assert t.shape == (6,)
    assert ((t > 0) & (t <= 1)).all()

    def opposite(x, t):  # path x_t = (1-t)*noise + t*action, velocity action - noise
        noise = (x - t * action) / (1 - t)
        return action - noise

    policy.flow.unet = RecordingUnet(opposite, scale)
    torch.manual_seed(0)
    assert policy.forward(batch)[0].item() > 0.1


def test_reduction_none_gives_per_sample_losses(make_policy, make_obs):
    policy = make_policy()
    batch = _train_batch(make_obs)
    torch.manual_seed(3)
    mean_loss, _ = policy.forward(batch)
    torch.manual_seed(3)
    per_sample, _ = policy.forward(batch, reduction="none")
    assert per_sample.shape == (6,)
    assert per_sample.requires_grad
    torch.testing.assert_close(per_sample.mean(), mean_loss)
    assert per_sample.std() > 0
    with pytest.raises(ValueError, match="reduction"):
        policy.forward(batch, reduction="sum")


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_padding_mask(make_policy, make_obs, reduction):
    """With do_mask_loss_for_padding, errors on padded steps do not count."""
    batch = _train_batch(make_obs)
    batch["action_is_pad"][:, -3:] = True
    action = batch[ACTION]

    def wrong_on_padding(x, t):
        noise = (x - (1 - t) * action) / t
        v = noise - action
        v[:, -3:] += 5.0
        return v

    losses = {}
    for mask in (True, False):
        policy = make_policy(do_mask_loss_for_padding=mask)
        policy.flow.unet = RecordingUnet(wrong_on_padding, policy.config.time_embed_scale)
        torch.manual_seed(0)
        losses[mask] = policy.forward(batch, reduction=reduction)[0]
    assert losses[True].max().item() < 1e-6
    assert losses[False].min().item() > 1.0

    policy = make_policy(do_mask_loss_for_padding=True)
    del batch["action_is_pad"]
    with pytest.raises(ValueError, match="action_is_pad"):
        policy.forward(batch)


# ---------------------------------------------------------------------------------- solvers
def _exact_factor(solver, n):
    """x(0)/x(1) for dx/dt = x integrated from t=1 to t=0 with n steps of `solver`."""
    h = 1.0 / n
    if solver == "euler":
        return (1 - h) ** n
    if solver == "midpoint":
        return (1 - h + h * h / 2) ** n
    return (1 - h + h * h / 2) ** (n - 1) * (1 - h)  # heun, last step Euler


def _exact_shift(solver, n):
    """x(0) - x(1) for dx/dt = t integrated from t=1 to t=0 with n steps of `solver`."""
    if solver == "euler":
        return -(n + 1) / (2 * n)
    if solver == "midpoint":
        return -0.5
    return -0.5 - 1 / (2 * n * n)  # heun: trapezoids are exact, the final Euler step is not


@pytest.mark.parametrize("solver", ["euler", "midpoint", "heun"])
@pytest.mark.parametrize("steps", [1, 3, 10])
def test_ode_solvers_match_closed_form(make_policy, make_obs, solver, steps):
    policy = make_policy(ode_solver=solver, num_inference_steps=steps).eval()
    cfg = policy.config
    obs = make_obs(2, n_obs_steps=2)
    noise = torch.randn(2, cfg.horizon, ACTION_DIM, generator=torch.Generator().manual_seed(0))
    window = slice(cfg.n_obs_steps - 1, cfg.n_obs_steps - 1 + cfg.n_action_steps)

    policy.flow.unet = RecordingUnet(lambda x, t: x, cfg.time_embed_scale)
    out = policy.predict_action_chunk(obs, noise=noise.clone())
    torch.testing.assert_close(out, noise[:, window] * _exact_factor(solver, steps))
    # Integration runs from t=1 downwards; the network is never queried at t=0.
    times = torch.stack(policy.flow.unet.timesteps)[:, 0] / cfg.time_embed_scale
    assert times[0].item() == pytest.approx(1.0)
    assert times.min().item() >= 1.0 / steps / 2 - 1e-6

    policy.flow.unet = RecordingUnet(lambda x, t: t.expand_as(x), cfg.time_embed_scale)
    out = policy.predict_action_chunk(obs, noise=noise.clone())
    torch.testing.assert_close(out, noise[:, window] + _exact_shift(solver, steps))


def test_euler_queries_evenly_spaced_scaled_times(make_policy, make_obs):
    policy = make_policy(ode_solver="euler", num_inference_steps=4, time_embed_scale=1000.0).eval()
    policy.flow.unet = RecordingUnet(lambda x, t: torch.zeros_like(x), 1000.0)
    policy.predict_action_chunk(make_obs(1, n_obs_steps=2))
    got = [ts.item() for ts in torch.cat(policy.flow.unet.timesteps)]
    assert got == pytest.approx([1000.0, 750.0, 500.0, 250.0])


@pytest.mark.parametrize("solver", ["euler", "midpoint", "heun"])
@pytest.mark.parametrize("steps", [2, 5])
def test_num_inference_steps_honoured(make_policy, make_obs, solver, steps):
    policy = make_policy(ode_solver=solver, num_inference_steps=steps).eval()
    calls = _count_unet_calls(policy)
    before = policy.flow.num_velocity_evals
    policy.predict_action_chunk(make_obs(3, n_obs_steps=2))
    expected = {"euler": steps, "midpoint": 2 * steps, "heun": 2 * steps - 1}[solver]
    assert len(calls) == expected
    assert policy.flow.num_velocity_evals - before == expected
    assert nfe_per_chunk(solver, steps) == expected


# ---------------------------------------------------------------------------------- inference
def test_select_action_queue(make_policy, make_obs):
    """n_obs_steps=2, horizon=8, n_action_steps=7: one chunk every 7 calls, from the last 2 obs."""
    policy = make_policy(n_obs_steps=2, horizon=8, n_action_steps=7, num_inference_steps=3).eval()
    calls = _count_unet_calls(policy)
    noise = torch.randn(3, 8, ACTION_DIM, generator=torch.Generator().manual_seed(5))
    observations = [make_obs(3, seed=i) for i in range(21)]

    actions, generated_at = [], []
    for i, obs in enumerate(observations):
        obs_copy = dict(obs)
        before = len(calls)
        action = policy.select_action(obs_copy, noise=noise)
        assert obs_copy.keys() == obs.keys()  # caller's batch is not modified
        assert action.shape == (3, ACTION_DIM)
        actions.append(action)
        if len(calls) != before:
            assert len(calls) - before == 3  # one full chunk of 3 Euler steps
            generated_at.append(i)
    assert generated_at == [0, 7, 14]

    # The chunk made at call 7 is conditioned on the observations of calls 6 and 7, and actions
    # are taken from index n_obs_steps - 1 of the sampled horizon.
    stacked = {k: torch.stack([observations[6][k], observations[7][k]], dim=1) for k in observations[7]}
    expected = policy.predict_action_chunk(stacked, noise=noise)
    torch.testing.assert_close(torch.stack(actions[7:14], dim=1), expected)
    with torch.no_grad():
        full_horizon = policy.flow.integrate(noise.clone(), policy.flow.prepare_global_conditioning(stacked))
    torch.testing.assert_close(torch.stack(actions[7:14], dim=1), full_horizon[:, 1:8])
    # After reset the queue is filled with copies of the first observation.
    first = {k: torch.stack([v, v], dim=1) for k, v in observations[0].items()}
    torch.testing.assert_close(
        torch.stack(actions[0:7], dim=1), policy.predict_action_chunk(first, noise=noise)
    )

    policy.select_action(make_obs(3, seed=99))  # mid-chunk: no new generation
    before = len(calls)
    policy.reset()
    policy.select_action(make_obs(3, seed=100))
    assert len(calls) - before == 3


def test_select_action_ignores_action_key_in_batch(make_policy, make_obs):
    policy = make_policy().eval()
    obs = make_obs(2)
    obs[ACTION] = torch.zeros(2, ACTION_DIM)
    policy.select_action(obs)
    assert len(policy._queues[ACTION]) == policy.config.n_action_steps - 1


def test_single_step_predict_action_chunk_uses_queue(make_policy, make_obs):
    policy = make_policy().eval()
    obs = make_obs(2)
    chunk = policy.predict_action_chunk(obs, seed=0)
    assert chunk.shape == (2, policy.config.n_action_steps, ACTION_DIM)
    stacked = {k: torch.stack([v, v], dim=1) for k, v in obs.items()}
    torch.testing.assert_close(chunk, policy.predict_action_chunk(stacked, seed=0))


def test_seeded_sampling_is_reproducible(make_policy, make_obs):
    policy = make_policy().eval()
    obs = make_obs(4, n_obs_steps=2)
    a = policy.predict_action_chunk(obs, seed=7)
    b = policy.predict_action_chunk(obs, seed=7)
    c = policy.predict_action_chunk(obs, generator=torch.Generator().manual_seed(7))
    d = policy.predict_action_chunk(obs, seed=8)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    torch.testing.assert_close(a, c, rtol=0, atol=0)
    assert (a - d).abs().max() > 1e-3
    torch.manual_seed(11)
    e = policy.predict_action_chunk(obs)
    torch.manual_seed(11)
    torch.testing.assert_close(e, policy.predict_action_chunk(obs), rtol=0, atol=0)
    with pytest.raises(ValueError, match="seed"):
        policy.predict_action_chunk(obs, seed=1, generator=torch.Generator())
    with pytest.raises(ValueError, match="noise"):
        policy.predict_action_chunk(obs, noise=torch.zeros(4, 3, ACTION_DIM))


# ---------------------------------------------------------------------------------- time sampling
def test_time_sampling_distributions(make_policy):
    samples = {}
    for kind in ("uniform", "beta"):
        policy = make_policy(time_sampling=kind)
        torch.manual_seed(0)
        t = policy.flow.sample_time(40000, torch.device("cpu"))
        assert t.shape == (40000,) and t.dtype == torch.float32
        assert (t > 0).all() and (t <= 1).all()
        assert t.min() >= 1 - policy.config.time_sampling_scale - 1e-6
        samples[kind] = t
    assert samples["uniform"].mean().item() == pytest.approx(0.5, abs=0.01)
    # Beta(1.5, 1) has mean 0.6 and density 1.5*sqrt(x): more weight on the noisy end (t -> 1).
    assert samples["beta"].mean().item() == pytest.approx(0.6, abs=0.01)
    assert samples["beta"].mean() > samples["uniform"].mean() + 0.05
    quarters = torch.histc(samples["beta"], bins=4, min=0, max=1)
    assert (quarters[1:] > quarters[:-1]).all(), quarters
    uniform_quarters = torch.histc(samples["uniform"], bins=4, min=0, max=1) / 40000
    assert ((uniform_quarters - 0.25).abs() < 0.02).all(), uniform_quarters


# ---------------------------------------------------------------------------------- conditioning
def test_state_and_env_state_condition_the_network(make_policy, make_obs):
    policy = make_policy().eval()
    obs = make_obs(2, n_obs_steps=2)
    base = policy.predict_action_chunk(obs, seed=0)
    for key in (OBS_STATE, OBS_ENV_STATE):
        changed = dict(obs)
        changed[key] = obs[key] + 1.0
        assert (policy.predict_action_chunk(changed, seed=0) - base).abs().max() > 1e-4, key
    cond = policy.flow.prepare_global_conditioning(obs)
    assert cond.shape == (2, 2 * (STATE_DIM + ENV_DIM))


@pytest.mark.parametrize("separate", [True, False])
def test_image_path(make_policy, make_obs, separate):
    """1-2 tiny cameras (3x64x64, crop 56, GroupNorm, no pretrained weights) train and condition."""
    num_cameras = 2 if not separate else 1
    policy = make_policy(num_cameras=num_cameras, use_separate_rgb_encoder_per_camera=separate)
    cfg = policy.config
    if separate:
        assert isinstance(policy.flow.rgb_encoder, nn.ModuleList) and len(policy.flow.rgb_encoder) == 1
    else:
        assert isinstance(policy.flow.rgb_encoder, DiffusionRgbEncoder)

    batch = make_obs(3, n_obs_steps=2, num_cameras=num_cameras)
    batch[ACTION] = torch.randn(3, cfg.horizon, ACTION_DIM)
    batch["action_is_pad"] = torch.zeros(3, cfg.horizon, dtype=torch.bool)
    loss, _ = policy.forward(batch)
    loss.backward()
    encoders = policy.flow.rgb_encoder if separate else [policy.flow.rgb_encoder]
    for encoder in encoders:  # gradients reach the ResNet itself, not just the output layer
        backbone_grads = [p.grad for p in encoder.backbone.parameters() if p.grad is not None]
        assert backbone_grads and all(g.abs().sum() > 0 for g in backbone_grads)
    assert OBS_IMAGES not in batch

    feature_dim = 2 * cfg.spatial_softmax_num_keypoints
    cond = policy.flow.prepare_global_conditioning(policy._with_time_axis(batch))
    assert cond.shape == (3, cfg.n_obs_steps * (STATE_DIM + ENV_DIM + num_cameras * feature_dim))

    policy.eval()
    obs = make_obs(3, num_cameras=num_cameras)
    first = policy.select_action(dict(obs), seed=0)
    assert first.shape == (3, ACTION_DIM)
    policy.reset()
    other = dict(obs)
    for key in cfg.image_features:
        other[key] = torch.rand_like(obs[key])
    assert (policy.select_action(other, seed=0) - first).abs().max() > 1e-5


def test_n_obs_steps_one_accepts_batches_without_time_axis(make_policy, make_obs):
    policy = make_policy(n_obs_steps=1, horizon=8, n_action_steps=8)
    batch = make_obs(4)
    batch[ACTION] = torch.randn(4, 8, ACTION_DIM)
    loss, _ = policy.forward(batch)
    assert math.isfinite(loss.item())
    policy2 = make_policy()  # n_obs_steps=2 needs the time axis in training batches
    with pytest.raises(ValueError, match="n_obs_steps=2"):
        policy2.forward(batch)
