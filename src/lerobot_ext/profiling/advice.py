"""The data-bound verdict (TensorFlow profiler's thresholds) and next steps from the run's settings."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from lerobot_ext import BETWEEN_STEPS, PHASES, STEP, Phase, torchcodec_loadable
from lerobot_ext.profiling.stats import PhaseStats

MODERATE = 5.0  # % of the step spent waiting for the DataLoader
HIGH = 20.0


@dataclass
class Verdict:
    level: str  # "NOT", "MODERATELY", "HIGHLY"
    data_wait_percent: float

    def line(self) -> str:
        pct = self.data_wait_percent
        if self.level == "HIGHLY":
            why = f"{pct:.1f}% of each step waits for the DataLoader (>= {HIGH:g}%)"
        elif self.level == "MODERATELY":
            why = f"{pct:.1f}% of each step waits for the DataLoader ({MODERATE:g}-{HIGH:g}%)"
        else:
            why = f"only {pct:.1f}% of each step waits for the DataLoader (< {MODERATE:g}%)"
        return f"verdict: {self.level} data-bound - {why}."


def verdict(summary: dict[str, PhaseStats]) -> Verdict:
    pct = summary[Phase.DATA_WAIT].percent
    level = "HIGHLY" if pct >= HIGH else "MODERATELY" if pct >= MODERATE else "NOT"
    return Verdict(level, pct)


@dataclass
class RunSettings:
    """The settings the advice refers to, read from the run's config."""

    num_workers: int
    prefetch_factor: int
    persistent_workers: bool
    batch_size: int
    video_backend: str | None
    cameras: int
    n_obs_steps: int
    device: str
    world_size: int
    cpu_count: int
    policy_type: str | None
    uses_amp: bool

    @classmethod
    def from_config(cls, cfg: Any, device: str, world_size: int) -> RunSettings:
        policy = cfg.policy
        features = getattr(policy, "input_features", None) or {}
        cameras = sum(
            1 for ft in features.values() if getattr(getattr(ft, "type", None), "name", "") == "VISUAL"
        )
        dtype = getattr(policy, "dtype", None)
        return cls(
            num_workers=cfg.num_workers,
            prefetch_factor=cfg.prefetch_factor,
            persistent_workers=cfg.persistent_workers,
            batch_size=cfg.batch_size,
            video_backend=getattr(cfg.dataset, "video_backend", None),
            cameras=cameras,
            n_obs_steps=int(getattr(policy, "n_obs_steps", 1) or 1),
            device=device,
            world_size=world_size,
            cpu_count=os.cpu_count() or 1,
            policy_type=getattr(policy, "type", None),
            uses_amp=bool(getattr(policy, "use_amp", False)) or dtype in ("bfloat16", "float16"),
        )

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def advice(summary: dict[str, PhaseStats], settings: RunSettings, found: Verdict) -> list[str]:
    """Concrete next steps, most promising first, each naming the flag and its current value."""
    tips: list[str] = []
    cores_per_rank = max(1, settings.cpu_count // max(1, settings.world_size))
    if found.level != "NOT":
        if settings.num_workers == 0:
            tips.append(
                f"--num_workers={min(4, cores_per_rank)} (now 0: every batch is loaded in the training process)"
            )
        elif settings.num_workers < cores_per_rank:
            more = min(cores_per_rank, max(settings.num_workers * 2, 4))
            tips.append(
                f"--num_workers={more} (now {settings.num_workers}; {settings.cpu_count} CPU cores"
                f"{f' for {settings.world_size} ranks' if settings.world_size > 1 else ''})"
            )
        else:
            tips.append(
                f"--num_workers is already {settings.num_workers} for {cores_per_rank} cores per rank: "
                "make each sample cheaper instead (below)"
            )
        if settings.cameras:
            frames = settings.cameras * settings.n_obs_steps
            if settings.video_backend != "torchcodec":
                fix = (
                    ""
                    if torchcodec_loadable()
                    else " - install FFmpeg's shared libraries so torchcodec can load"
                )
                tips.append(f"--dataset.video_backend=torchcodec (now {settings.video_backend}){fix}")
            # Only the levers this run still has: one camera and one observation step leave neither.
            levers = [
                *(["fewer cameras (--camera_keys)"] if settings.cameras > 1 else []),
                *(["--policy.n_obs_steps=1"] if settings.n_obs_steps > 1 else []),
                "--data_cache=DIR (every frame decoded once, before training)",
            ]
            tips.append(
                f"each sample decodes {frames} video frame{'s' if frames != 1 else ''} ({settings.cameras} "
                f"camera{'s' if settings.cameras != 1 else ''} x n_obs_steps={settings.n_obs_steps}); "
                f"{' or '.join(levers)} decode less"
            )
        if settings.num_workers > 0:
            tips.append(f"--prefetch_factor={settings.prefetch_factor * 2} (now {settings.prefetch_factor})")
            if not settings.persistent_workers:
                tips.append("--persistent_workers=true (now false: workers restart every epoch)")
    else:
        phases = {k: summary[k] for k in PHASES if k != Phase.DATA_WAIT}
        largest = max(phases, key=lambda k: phases[k].percent)
        share = phases[largest].percent
        if largest in (Phase.FORWARD, Phase.BACKWARD):
            if settings.device == "cpu":
                tips.append(
                    f"the model's {largest} pass dominates ({share:.1f}%) and runs on the CPU: train on a GPU"
                )
            else:
                if not settings.uses_amp:
                    tips.append(
                        f"the model's {largest} pass dominates ({share:.1f}%): try mixed precision "
                        "(--policy.use_amp=true, or --policy.dtype=bfloat16 where the policy has it)"
                    )
                tips.append(
                    f"--batch_size={settings.batch_size * 2} (now {settings.batch_size}) if memory allows: "
                    "larger batches use the GPU better"
                )
        elif largest == Phase.OPTIMIZER:
            tips.append(
                f"the optimizer step takes {share:.1f}%: a fused/foreach optimizer or fewer parameters help"
            )
        elif largest in (Phase.PREPROCESS, Phase.H2D_COPY):
            tips.append(
                f"{largest} takes {share:.1f}% in the training process: move work into the dataset "
                "(DataLoader workers) or keep images uint8 until the device (--dataset.return_uint8=true)"
            )
        elif largest == Phase.HOOKS:
            tips.append(f"plugin hooks take {share:.1f}% of each step: see `lerobot-train-ext --plugins`")
    if summary[BETWEEN_STEPS].mean > 0.1 * max(summary[STEP].mean, 1e-9):
        tips.append(
            "time between steps (logging, evaluation, checkpoints) is "
            f"{summary[BETWEEN_STEPS].mean * 1e3:.1f} ms per step on average: raise --log_freq / --save_freq"
        )
    return tips
