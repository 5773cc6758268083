"""``--validation.*``: what the held-out measurement uses and which metric ``best`` follows."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ValidationConfig:
    # Measure the executed-action error on the --dataset.eval_split episodes (every --eval_steps
    # steps and at every checkpoint) and keep checkpoints/best. Off without a split.
    enable: bool = True
    # What checkpoints/best follows (lower is better): action_error (mean over action dims),
    # action_error_max (the worst dim), action_error.<dim name>, or loss (the policy's own loss
    # on the held-out frames, fixed seed).
    metric: str = "action_error"
    # How many held-out frames (a fixed, seeded choice; all of them when there are fewer).
    frames: int = 512
    # Seed of the frames chosen and of the sampling noise.
    seed: int = 0
