"""The error of the actions a policy would execute, on held-out frames, with fixed noise.

For each frame the policy samples an action chunk as it would on the robot (``reset()`` first, so
the frame's own observation window is used, not a queue left by a previous call), and the part
of the chunk it would execute - its first ``n_action_steps`` actions - is compared with the
recorded actions from that frame on. Errors are squared, in the policy's normalised action units
(every dim weighs the same whatever its physical range), and averaged over the frames whose
window is not padding. The random state is forked and seeded per batch, so the same weights give
the same number every time and two checkpoints are measured with the same noise - training's
random state is untouched.

Besides the executed-action error, the policy's own ``forward()`` loss on the same frames is
measured with the same fixed seed: upstream's ``--eval_steps`` loss, without its noise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

ACTION = "action"
ACTION_IS_PAD = "action_is_pad"
# The metrics a run can follow for checkpoints/best; lower is better for each.
METRICS = ("action_error", "action_error_max", "loss")


@dataclass
class ActionError:
    """One measurement: mean squared executed-action error per action dim, and the loss."""

    per_dim: list[float]
    loss: float
    frames: int
    dim_names: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        """The mean over action dims."""
        return sum(self.per_dim) / len(self.per_dim)

    def value(self, metric: str) -> float:
        """The value of one of :data:`METRICS` (or ``action_error.<dim name>``)."""
        if metric == "action_error":
            return self.total
        if metric == "action_error_max":
            return max(self.per_dim)
        if metric == "loss":
            return self.loss
        prefix = "action_error."
        if metric.startswith(prefix) and metric[len(prefix) :] in self.names:
            return self.per_dim[self.names.index(metric[len(prefix) :])]
        raise KeyError(metric)

    @property
    def names(self) -> list[str]:
        return self.dim_names if len(self.dim_names) == len(self.per_dim) else dim_labels(len(self.per_dim))

    def as_row(self) -> dict[str, float]:
        """Every value, flat: the total, the worst dim, the loss, then one per dim."""
        row = {"action_error": self.total, "action_error_max": max(self.per_dim), "loss": self.loss}
        row.update(
            {f"action_error.{name}": value for name, value in zip(self.names, self.per_dim, strict=True)}
        )
        return row


def dim_labels(width: int) -> list[str]:
    return [f"dim{i}" for i in range(width)]


def action_names(features: dict[str, Any], width: int) -> list[str]:
    """The action dims' names from a dataset's features (``names`` may be a list, or a dict of
    lists as lerobot's robots write them), or ``dim0..`` when they are missing or do not fit."""
    names = (features.get(ACTION) or {}).get("names")
    if isinstance(names, dict):
        names = [name for group in names.values() for name in group]
    if isinstance(names, list | tuple) and len(names) == width and all(isinstance(n, str) for n in names):
        return list(names)
    return dim_labels(width)


def executed_window(config: Any) -> tuple[int, int]:
    """``(offset, length)``: where the executed actions sit in a dataset item's action window.

    The window is the policy's ``action_delta_indices``; the current frame is delta 0 (Diffusion
    Policy and flow look back ``n_obs_steps - 1`` frames, ACT and SmolVLA start at 0), and the
    policy executes ``n_action_steps`` actions from there.
    """
    deltas = list(config.action_delta_indices or [0])
    offset = deltas.index(0) if 0 in deltas else 0
    return offset, int(config.n_action_steps)


def measure(
    policy: Any,
    preprocessor: Callable[[dict[str, Any]], dict[str, Any]],
    batches: Iterable[dict[str, Any]],
    seed: int,
    image_keys: Sequence[str] = (),
    dim_names: Sequence[str] = (),
) -> ActionError:
    """Executed-action error and loss of ``policy`` on ``batches`` (collated dataset items).

    ``image_keys``: the camera features that arrive as uint8 and are scaled to [0, 1] first, as
    upstream's training loop does before its preprocessor.
    """
    import torch

    config = policy.config
    offset, length = executed_window(config)
    squared: Any = None
    counted = 0
    loss_sum, loss_frames = 0.0, 0
    was_training = policy.training
    policy.eval()
    try:
        with torch.no_grad():
            for index, batch in enumerate(batches):
                batch = dict(batch)
                for key in image_keys:
                    if key in batch and batch[key].dtype == torch.uint8:
                        batch[key] = batch[key].to(torch.float32) / 255
                with torch.random.fork_rng(devices=_devices()):
                    torch.manual_seed(seed + index)
                    batch = preprocessor(batch)
                    target = batch[ACTION][:, offset : offset + length]
                    pad = batch.get(ACTION_IS_PAD)
                    valid = (
                        ~pad[:, offset : offset + length].bool()
                        if pad is not None
                        else torch.ones(target.shape[:2], dtype=torch.bool, device=target.device)
                    )
                    reset = getattr(policy, "reset", None)
                    if callable(reset):
                        reset()  # empty observation/action queues: the batch's own window is used
                    chunk = policy.predict_action_chunk(batch)[:, :length]
                    torch.manual_seed(seed + index)
                    loss, _ = policy.forward(batch)
                errors = ((chunk.float() - target[:, : chunk.shape[1]].float()) ** 2)[
                    valid[:, : chunk.shape[1]]
                ]
                squared = errors.sum(dim=0) if squared is None else squared + errors.sum(dim=0)
                counted += errors.shape[0]
                frames = target.shape[0]
                loss_sum += float(loss) * frames
                loss_frames += frames
    finally:
        policy.train(was_training)
    if squared is None or counted == 0:
        raise ValueError("no held-out frame with an unpadded action window to measure on")
    per_dim = [float(v) for v in (squared / counted).cpu()]
    return ActionError(per_dim, loss_sum / loss_frames, loss_frames, list(dim_names))


def _devices() -> list[int]:
    import torch

    # Fork the CUDA generators too, when there are any: the policy may sample noise on the GPU.
    return list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
