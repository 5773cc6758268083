"""The `flow` policy: Diffusion Policy's network trained with flow matching.

The network is assembled from LeRobot's own Diffusion Policy building blocks (imported, not
copied): ``DiffusionRgbEncoder`` per camera (or one shared), the FiLM-conditioned
``DiffusionConditionalUnet1d``, and ``DiffusionModel._prepare_global_conditioning`` to build the
global conditioning vector exactly as Diffusion Policy does.

Flow convention
---------------
``t = 1`` is pure Gaussian noise and ``t = 0`` is the (normalised) action chunk:

    x_t = t * noise + (1 - t) * action          target velocity  v = dx_t/dt = noise - action

Training regresses the U-Net output onto ``v`` (MSE). Sampling draws ``x_1 ~ N(0, I)`` and
integrates ``dx/dt = v(x, t)`` from ``t = 1`` down to ``t = 0`` in ``num_inference_steps`` steps
of size ``dt = -1 / num_inference_steps`` with the configured ODE solver.

Reproducible sampling: ``select_action`` / ``predict_action_chunk`` accept ``noise=`` (the
initial ``x_1``, shape ``(B, horizon, action_dim)``), ``generator=`` (a ``torch.Generator`` on the
policy's device) or ``seed=`` (an int; a fresh generator on the policy's device is seeded with
it). Given the same observation and any of these, the policy returns the same actions (the ODE
itself is deterministic and eval mode uses a centre crop). Without them the global torch RNG is
used, so ``torch.manual_seed`` also makes runs repeatable.

Counting network evaluations: every U-Net call goes through ``FlowModel.velocity`` which
increments ``FlowModel.num_velocity_evals`` (reachable as ``policy.flow.num_velocity_evals``).
One chunk costs N evaluations with ``euler``, 2N with ``midpoint`` and 2N-1 with ``heun``.
"""

from collections import deque

import torch
import torch.nn.functional as F
from lerobot.policies.common.flow_matching import euler_integrate, sample_time_beta
from lerobot.policies.diffusion.modeling_diffusion import (
    DiffusionConditionalUnet1d,
    DiffusionModel,
    DiffusionRgbEncoder,
)
from lerobot.policies.pretrained import PreTrainedPolicy
from lerobot.policies.utils import get_device_from_parameters, get_dtype_from_parameters, populate_queues
from lerobot.utils.constants import ACTION, OBS_ENV_STATE, OBS_IMAGES, OBS_STATE
from torch import Tensor, nn

from .configuration_flow import FlowConfig

ACTION_IS_PAD = f"{ACTION}_is_pad"


def nfe_per_chunk(solver: str, num_inference_steps: int) -> int:
    """Number of U-Net evaluations needed to sample one action chunk."""
    if solver == "euler":
        return num_inference_steps
    if solver == "midpoint":
        return 2 * num_inference_steps
    if solver == "heun":
        return 2 * num_inference_steps - 1
    raise ValueError(f"Unknown ODE solver {solver!r}")


class FlowModel(nn.Module):
    """Observation encoders + conditional U-Net, with the flow-matching loss and ODE sampler."""

    def __init__(self, config: FlowConfig):
        super().__init__()
        self.config = config

        cond_dim_per_step = config.robot_state_feature.shape[0]
        if config.image_features:
            num_cameras = len(config.image_features)
            if config.use_separate_rgb_encoder_per_camera:
                self.rgb_encoder = nn.ModuleList(DiffusionRgbEncoder(config) for _ in range(num_cameras))
                feature_dim = self.rgb_encoder[0].feature_dim
            else:
                self.rgb_encoder = DiffusionRgbEncoder(config)
                feature_dim = self.rgb_encoder.feature_dim
            cond_dim_per_step += feature_dim * num_cameras
        if config.env_state_feature:
            cond_dim_per_step += config.env_state_feature.shape[0]

        self.unet = DiffusionConditionalUnet1d(config, global_cond_dim=cond_dim_per_step * config.n_obs_steps)
        if config.compile_model:
            # In-place compile keeps the state-dict keys unchanged (no `_orig_mod.` prefix).
            self.unet.compile(mode=config.compile_mode)

        # Incremented on every U-Net call; see `velocity`.
        self.num_velocity_evals = 0

    # Upstream's conditioning builder only reads `self.config` and `self.rgb_encoder`, which this
    # module provides with the same meaning: states, per-camera image features and the
    # environment state of every observation step, concatenated and flattened to (B, cond_dim).
    prepare_global_conditioning = DiffusionModel._prepare_global_conditioning

    # ------------------------------------------------------------------ network call
    def velocity(self, x_t: Tensor, t: Tensor, global_cond: Tensor) -> Tensor:
        """Predicted velocity at flow time `t` (shape (B,), values in [0, 1]) for `x_t` (B, H, A)."""
        self.num_velocity_evals += 1
        return self.unet(x_t, t * self.config.time_embed_scale, global_cond=global_cond)

    # ------------------------------------------------------------------ training
    def sample_time(self, batch_size: int, device: torch.device) -> Tensor:
        """Training times in [1 - s, 1] (t = 1 is noise), drawn with the global torch RNG."""
        cfg = self.config
        scale = cfg.time_sampling_scale
        if cfg.time_sampling == "beta":
            return sample_time_beta(
                batch_size,
                device,
                alpha=cfg.time_sampling_beta_alpha,
                beta=cfg.time_sampling_beta_beta,
                scale=scale,
                offset=1.0 - scale,
            )
        if cfg.time_sampling == "uniform":
            return 1.0 - scale * torch.rand(batch_size, device=device)
        raise ValueError(f"Unknown time_sampling {cfg.time_sampling!r}")

    def compute_loss(self, batch: dict[str, Tensor], reduction: str = "mean") -> Tensor:
        """Flow-matching MSE. `batch` holds (B, n_obs_steps, ...) observations and (B, horizon, A) actions.

        reduction="mean" returns a scalar, reduction="none" one loss per sample (B,).
        """
        if reduction not in ("mean", "none"):
            raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
        actions = batch[ACTION]
        if actions.shape[1] != self.config.horizon:
            raise ValueError(
                f"`{ACTION}` has {actions.shape[1]} steps but the policy's horizon is {self.config.horizon}; "
                "the dataset must deliver action_delta_indices of the config."
            )
        global_cond = self.prepare_global_conditioning(batch)

        noise = torch.randn_like(actions)
        t = self.sample_time(actions.shape[0], actions.device).to(actions.dtype)
        t_b = t.view(-1, 1, 1)
        x_t = t_b * noise + (1.0 - t_b) * actions
        target = noise - actions

        pred = self.velocity(x_t, t, global_cond)
        loss = F.mse_loss(pred, target, reduction="none")  # (B, H, A)

        if self.config.do_mask_loss_for_padding:
            if ACTION_IS_PAD not in batch:
                raise ValueError(
                    f"`{ACTION_IS_PAD}` must be in the batch when do_mask_loss_for_padding=True."
                )
            mask = (~batch[ACTION_IS_PAD]).unsqueeze(-1).to(loss.dtype)  # (B, H, 1)
            loss = loss * mask
            if reduction == "none":
                return loss.sum(dim=(1, 2)) / (mask.sum(dim=(1, 2)) * loss.shape[-1]).clamp_min(1)
            return loss.sum() / (mask.sum() * loss.shape[-1]).clamp_min(1)

        if reduction == "none":
            return loss.mean(dim=(1, 2))
        return loss.mean()

    # ------------------------------------------------------------------ sampling
    def integrate(self, x: Tensor, global_cond: Tensor) -> Tensor:
        """Integrate dx/dt = v(x, t) from t=1 (x = noise) to t=0 with the configured solver."""
        solver = self.config.ode_solver
        steps = self.config.num_inference_steps

        def velocity_fn(x_t: Tensor, t: Tensor) -> Tensor:
            return self.velocity(x_t, t.to(x_t.dtype), global_cond)

        if solver == "euler":
            return euler_integrate(velocity_fn, x, steps)

        dt = -1.0 / steps

        def at(time: float) -> Tensor:
            return torch.full((x.shape[0],), time, dtype=torch.float32, device=x.device)

        for i in range(steps):
            t = 1.0 + i * dt
            k1 = velocity_fn(x, at(t))
            if solver == "midpoint":
                x = x + dt * velocity_fn(x + 0.5 * dt * k1, at(t + 0.5 * dt))
            elif solver == "heun":
                x_euler = x + dt * k1
                last_step = i == steps - 1  # plain Euler there, so the network never sees t = 0
                x = x_euler if last_step else x + 0.5 * dt * (k1 + velocity_fn(x_euler, at(t + dt)))
            else:
                raise ValueError(f"Unknown ode_solver {solver!r}")
        return x

    def generate_actions(
        self,
        batch: dict[str, Tensor],
        noise: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Sample a chunk and return its `n_action_steps` executable actions (B, n_action_steps, A)."""
        batch_size, n_obs_steps = batch[OBS_STATE].shape[:2]
        if n_obs_steps != self.config.n_obs_steps:
            raise ValueError(f"Expected {self.config.n_obs_steps} observation steps, got {n_obs_steps}.")
        global_cond = self.prepare_global_conditioning(batch)

        shape = (batch_size, self.config.horizon, self.config.action_feature.shape[0])
        if noise is None:
            noise = torch.randn(
                shape,
                dtype=get_dtype_from_parameters(self),
                device=get_device_from_parameters(self),
                generator=generator,
            )
        elif tuple(noise.shape) != shape:
            raise ValueError(f"`noise` must have shape {shape}, got {tuple(noise.shape)}.")
        chunk = self.integrate(noise, global_cond)

        start = n_obs_steps - 1
        return chunk[:, start : start + self.config.n_action_steps]


class FlowPolicy(PreTrainedPolicy):
    """Diffusion Policy's architecture trained with flow matching (`--policy.type=flow`)."""

    config_class = FlowConfig
    name = "flow"

    def __init__(self, config: FlowConfig, **kwargs):
        # lerobot's make_policy passes dataset_stats= / dataset_meta=; normalisation lives in the
        # processors, so they are not needed here.
        super().__init__(config)
        config.validate_features()
        self.config = config
        self.flow = FlowModel(config)
        self._queues: dict[str, deque] = {}
        self.reset()

    def get_optim_params(self) -> dict:
        return self.flow.parameters()

    def reset(self):
        """Clear the observation and action queues. Call on every `env.reset()`."""
        n_obs = self.config.n_obs_steps
        self._queues = {
            OBS_STATE: deque(maxlen=n_obs),
            ACTION: deque(maxlen=self.config.n_action_steps),
        }
        if self.config.image_features:
            self._queues[OBS_IMAGES] = deque(maxlen=n_obs)
        if self.config.env_state_feature:
            self._queues[OBS_ENV_STATE] = deque(maxlen=n_obs)

    # ------------------------------------------------------------------ batch helpers
    def _stack_cameras(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """Shallow copy of `batch` with all cameras stacked under OBS_IMAGES on dim -4."""
        batch = dict(batch)
        if self.config.image_features:
            batch[OBS_IMAGES] = torch.stack([batch[key] for key in self.config.image_features], dim=-4)
        return batch

    def _with_time_axis(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """Training/offline batch -> (B, n_obs_steps, ...) observations with stacked cameras."""
        batch = dict(batch)
        single_step = {OBS_STATE: 2, OBS_ENV_STATE: 2, **dict.fromkeys(self.config.image_features, 4)}
        for key, ndim in single_step.items():
            if key in batch and batch[key].ndim == ndim:
                if self.config.n_obs_steps != 1:
                    raise ValueError(
                        f"`{key}` has no observation-time axis but n_obs_steps={self.config.n_obs_steps}; "
                        f"expected shape (B, {self.config.n_obs_steps}, ...)."
                    )
                batch[key] = batch[key].unsqueeze(1)
        return self._stack_cameras(batch)

    def _observe(self, batch: dict[str, Tensor]) -> None:
        """Push one single-step observation (B, ...) into the observation queues."""
        populate_queues(self._queues, self._stack_cameras(batch), exclude_keys=[ACTION])

    @staticmethod
    def _make_generator(
        seed: int | None, generator: torch.Generator | None, device
    ) -> torch.Generator | None:
        if seed is None:
            return generator
        if generator is not None:
            raise ValueError("Pass either `seed` or `generator`, not both.")
        return torch.Generator(device=device).manual_seed(seed)

    def _chunk_from_queues(self, noise, generator) -> Tensor:
        obs = {key: torch.stack(list(q), dim=1) for key, q in self._queues.items() if key != ACTION}
        return self.flow.generate_actions(obs, noise=noise, generator=generator)

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def predict_action_chunk(
        self,
        batch: dict[str, Tensor],
        noise: Tensor | None = None,
        generator: torch.Generator | None = None,
        seed: int | None = None,
    ) -> Tensor:
        """Sample `n_action_steps` actions (B, n_action_steps, A) for an observation batch.

        - Single-step observations (``observation.state`` of shape (B, D), images (B, C, H, W)) are
          pushed into the observation queues first (as in ``select_action``) and the chunk is
          conditioned on the last ``n_obs_steps`` queued observations.
        - Observations with a time axis ((B, n_obs_steps, ...), e.g. a dataloader batch) are used
          directly and the queues are left untouched.
        """
        generator = self._make_generator(seed, generator, get_device_from_parameters(self))
        if batch[OBS_STATE].ndim == 2:
            self._observe(batch)
            return self._chunk_from_queues(noise, generator)
        obs = self._with_time_axis({k: v for k, v in batch.items() if k != ACTION})
        return self.flow.generate_actions(obs, noise=noise, generator=generator)

    @torch.no_grad()
    def select_action(
        self,
        batch: dict[str, Tensor],
        noise: Tensor | None = None,
        generator: torch.Generator | None = None,
        seed: int | None = None,
    ) -> Tensor:
        """Return one action (B, A) for a single-step observation, with action-chunk caching.

        The last `n_obs_steps` observations are kept (the first one is repeated to fill the queue
        after `reset()`). When the action queue is empty a chunk of `horizon` actions is sampled
        and actions `n_obs_steps - 1 ... n_obs_steps - 2 + n_action_steps` (those starting at the
        current step) are queued, so a new chunk is generated every `n_action_steps` calls.
        `noise`, `generator` and `seed` only matter on calls that generate a chunk.
        """
        self._observe(batch)
        if len(self._queues[ACTION]) == 0:
            generator = self._make_generator(seed, generator, get_device_from_parameters(self))
            actions = self._chunk_from_queues(noise, generator)  # (B, n_action_steps, A)
            self._queues[ACTION].extend(actions.transpose(0, 1))
        return self._queues[ACTION].popleft()

    # ------------------------------------------------------------------ training
    def forward(self, batch: dict[str, Tensor], reduction: str = "mean") -> tuple[Tensor, None]:
        """Flow-matching loss. reduction="mean" -> scalar; reduction="none" -> per-sample (B,).

        No output dict: reading the loss here (``.item()``) would make the host wait for the GPU
        before it can launch the backward pass; upstream's loop reads it after the optimizer step.
        """
        loss = self.flow.compute_loss(self._with_time_axis(batch), reduction=reduction)
        return loss, None
