"""Helpers of flow_vs_diffusion.py: lerobot-train's own pieces driven in one process, in lockstep.

Everything that decides what a policy sees comes from LeRobot itself: the config is parsed from
the same flags ``lerobot-train`` takes, the datasets come from ``make_train_eval_datasets``
(``--dataset.eval_split`` holds out the last episodes), the policy, processors, optimizer and
LR scheduler from LeRobot's factories, the data order from its ``EpisodeAwareSampler`` and each
update from ``lerobot.scripts.lerobot_train.update_policy``. What differs from ``lerobot-train``:

- the frames are decoded once and kept in memory (decoding is identical for every policy and
  would otherwise dominate a CPU run);
- several policies are trained side by side: every step draws one batch and hands it to each
  policy in turn, with the global RNG reseeded to the same value before each update, so they
  see the same data order, the same random crops and the same initial noise draws.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
import types
from collections.abc import Callable

import torch

POLICY_FLAGS = [
    "--policy.device=cpu",
    "--policy.pretrained_backbone_weights=null",
    "--policy.push_to_hub=false",
    "--wandb.enable=false",
    "--dataset.video_backend=pyav",
    "--num_workers=0",
]


def parse_train_config(flags: list[str]):
    """A validated TrainPipelineConfig from lerobot-train command-line flags."""
    import draccus
    from lerobot.configs.train import TrainPipelineConfig

    import lerobot_policy_flow  # noqa: F401  (registers --policy.type=flow)

    cfg = draccus.parse(TrainPipelineConfig, args=flags)
    cfg.validate()
    return cfg


class CachedFrames(torch.utils.data.Dataset):
    """Every item of a LeRobotDataset (images stay uint8), decoded once."""

    def __init__(self, dataset, limit: int | None = None):
        count = len(dataset) if limit is None else min(limit, len(dataset))
        self.items = [dataset[i] for i in range(count)]
        self.camera_keys = list(dataset.meta.camera_keys)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        return self.items[index]

    def batch(self, indices) -> dict:
        return self.to_float(torch.utils.data.default_collate([self.items[i] for i in indices]))

    def to_float(self, batch: dict) -> dict:
        # lerobot-train loads uint8 frames and scales them to [0, 1] right before its preprocessor.
        for key in self.camera_keys:
            if key in batch and batch[key].dtype == torch.uint8:
                batch[key] = batch[key].to(torch.float32) / 255.0
        return batch


@dataclasses.dataclass
class Trainee:
    name: str
    cfg: object  # TrainPipelineConfig
    policy: object
    preprocessor: Callable
    postprocessor: Callable
    optimizer: object
    scheduler: object
    step_s: list[float] = dataclasses.field(default_factory=list)
    loss: list[float] = dataclasses.field(default_factory=list)


def make_trainee(name: str, cfg, meta, init_seed: int) -> Trainee:
    from lerobot.optim.factory import make_optimizer_and_scheduler
    from lerobot.policies.factory import make_policy, make_pre_post_processors

    torch.manual_seed(init_seed)
    policy = make_policy(cfg=cfg.policy, ds_meta=meta)
    preprocessor, postprocessor = make_pre_post_processors(cfg.policy, dataset_stats=meta.stats)
    optimizer, scheduler = make_optimizer_and_scheduler(cfg, policy)
    return Trainee(name, cfg, policy, preprocessor, postprocessor, optimizer, scheduler)


def train_lockstep(
    trainees: list[Trainee],
    frames: CachedFrames,
    train_dataset,
    steps: int,
    batch_size: int,
    seed: int,
    log_every: int = 100,
) -> None:
    """Train all ``trainees`` for ``steps`` updates on the same batches; time each update.

    The order of the trainees rotates from step to step, so none of them is always the one
    that runs right after the batch was built (or right after another policy's update).
    """
    from accelerate import Accelerator
    from lerobot.datasets import EpisodeAwareSampler
    from lerobot.scripts.lerobot_train import update_policy
    from lerobot.utils.utils import cycle

    accelerator = Accelerator(cpu=True)
    cfg = trainees[0].cfg
    sampler = EpisodeAwareSampler(
        train_dataset.meta.episodes["dataset_from_index"],
        train_dataset.meta.episodes["dataset_to_index"],
        episode_indices_to_use=train_dataset.episodes,
        drop_n_last_frames=cfg.policy.drop_n_last_frames,
        shuffle=True,
        seed=seed,
        absolute_to_relative_idx=train_dataset.absolute_to_relative_idx,
    )
    loader = torch.utils.data.DataLoader(
        frames, batch_size=batch_size, sampler=sampler, num_workers=0, drop_last=False
    )
    batches = cycle(loader)
    for trainee in trainees:
        trainee.policy.train()
    start = time.perf_counter()
    for step in range(steps):
        raw = frames.to_float(next(batches))
        shift = step % len(trainees)
        for trainee in trainees[shift:] + trainees[:shift]:
            batch = trainee.preprocessor(dict(raw))
            torch.manual_seed(seed * 1_000_003 + step)
            metrics = types.SimpleNamespace()
            t0 = time.perf_counter()
            update_policy(
                metrics,
                trainee.policy,
                batch,
                trainee.optimizer,
                trainee.cfg.optimizer.grad_clip_norm,
                accelerator,
                lr_scheduler=trainee.scheduler,
            )
            trainee.step_s.append(time.perf_counter() - t0)
            trainee.loss.append(metrics.loss)
        if (step + 1) % log_every == 0 or step + 1 == steps:
            window = slice(max(0, step + 1 - log_every), step + 1)
            losses = "  ".join(
                f"{t.name} loss {statistics.fmean(t.loss[window]):.4f} "
                f"{1e3 * statistics.median(t.step_s[window]):.0f} ms"
                for t in trainees
            )
            print(
                f"  step {step + 1:>5}/{steps}  {losses}  [{time.perf_counter() - start:.0f} s]",
                flush=True,
            )
    for trainee in trainees:
        trainee.policy.eval()


def with_inference(policy, **changes):
    """A copy of a trained policy whose config differs only in sampling fields (same weights).

    The config goes through the policy's own dataclass (so its validation runs), exactly as if
    ``--policy.<field>=...`` had been given at inference time.
    """
    config = dataclasses.replace(policy.config, **changes)
    clone = type(policy)(config)
    clone.load_state_dict(policy.state_dict())
    return clone.eval()


@torch.no_grad()
def sample_chunks(policy, batch: dict, noise: torch.Tensor, seed: int) -> torch.Tensor:
    """Executed actions (B, n_action_steps, A), normalised, for a batch with an observation-time axis.

    Both policies take the same initial noise; DDPM's per-step noise comes from the global RNG,
    which is reseeded first.
    """
    policy.reset()  # empty queues: both policies then use the batch's own observation history
    observations = {k: v for k, v in batch.items() if k.startswith("observation.")}
    torch.manual_seed(seed)
    return policy.predict_action_chunk(observations, noise=noise)


@torch.no_grad()
def flow_conditioning(policy, batch: dict) -> torch.Tensor:
    """The flow model's global conditioning (encoder output) for a batch with an observation-time axis.

    Cameras are stacked on dim -4 as the policy does; the result depends only on the weights, so
    one conditioning serves every sampler of a trained model (``integrate_chunks``).
    """
    from lerobot.utils.constants import OBS_IMAGES

    observations = {k: v for k, v in batch.items() if k.startswith("observation.")}
    if policy.config.image_features:
        observations[OBS_IMAGES] = torch.stack(
            [observations[key] for key in policy.config.image_features], dim=-4
        )
    return policy.flow.prepare_global_conditioning(observations)


@torch.no_grad()
def integrate_chunks(policy, conditioning: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Executed actions from ``policy``'s ODE sampler, given a precomputed conditioning."""
    chunk = policy.flow.integrate(noise, conditioning)
    start = policy.config.n_obs_steps - 1
    return chunk[:, start : start + policy.config.n_action_steps]


def time_new_chunks(policies: dict[str, object], observation: dict, rounds: int, warmup: int = 2):
    """Seconds of ``select_action`` right after ``reset()`` (so every call samples a new chunk).

    The policies take turns, and the order rotates every round.
    """
    names = list(policies)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(warmup + rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            policy = policies[name]
            policy.reset()
            obs = dict(observation)
            t0 = time.perf_counter()
            with torch.no_grad():
                policy.select_action(obs)
            if round_index >= warmup:
                samples[name].append(time.perf_counter() - t0)
    return samples


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]
