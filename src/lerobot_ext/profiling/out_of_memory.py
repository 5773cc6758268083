"""A CUDA out-of-memory error during training as one line: where it happened, the GPU's memory,
and the knobs that make this policy's step fit - on every run, with or without ``--profile``.

The line names only knobs the run has: ``--batch_size`` (halved); gradient accumulation where the
installed lerobot has it (``accelerator.gradient_accumulation.steps``, from 0.6.2); gradient
checkpointing where the policy's config has such a field (pi0, pi05, pi0_fast, diffusion, eo1,
molmoact2, ... - not smolvla, nor act); ``PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True`` unless
it is set. Checkpoints are untouched by an out-of-memory error (the save_checkpoint seam removes an
unfinished ``<step>.partial/``), so the line also says how to continue from ``checkpoints/last``.
"""

from __future__ import annotations

import dataclasses
import os
import re
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from lerobot_ext import LerobotExtError

OOM_TEXT = "CUDA out of memory"
EXPANDABLE = "expandable_segments:True"
# The policy config fields that turn gradient checkpointing on, by the names lerobot's policies use
# (0.6.1 and 0.6.2): pi0/pi05/pi0_fast/diffusion/eo1/molmoact2, fastwam, evo1. 0.6.2's
# --accelerator.activation_checkpointing is a placeholder upstream does not wire yet: not offered.
CHECKPOINTING_FIELDS = (
    "gradient_checkpointing",
    "use_gradient_checkpointing",
    "enable_gradient_checkpointing",
)
# Where in upstream's loop the error happened, by the function names in its traceback; a name
# upstream renames only makes the line say "in step N" instead.
_DURING = (
    ("save_checkpoint", "while saving the checkpoint of step {step}"),
    ("eval_policy_all", "while evaluating the policy after step {step}"),
)
_SIZE = r"([\d.]+ [KMGTP]?i?B)"


class CudaOutOfMemoryError(LerobotExtError, RuntimeError):
    """Training ran out of CUDA memory; the message says what to change and how to continue."""


def cuda_out_of_memory(exception: BaseException) -> BaseException | None:
    """The CUDA out-of-memory error ``exception`` is, or was raised ``from``; ``None`` if none.

    Only explicit causes are followed, not ``__context__``: an error raised while handling an
    out-of-memory error that was dealt with (a retry with less) is not one.
    """
    import torch

    for error in _causes(exception):
        if isinstance(error, torch.cuda.OutOfMemoryError) or (
            isinstance(error, RuntimeError) and OOM_TEXT in str(error)
        ):
            return error
    return None


def _causes(exception: BaseException) -> Iterator[BaseException]:
    """``exception``, then what it was raised ``from``, and so on (each once)."""
    seen: set[int] = set()
    current: BaseException | None = exception
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__


@dataclasses.dataclass(frozen=True)
class GpuMemory:
    """What is known of the GPU's memory when it ran out (sizes as text, e.g. ``"2.00 GiB"``)."""

    device: str | None = None
    total: str | None = None
    free: str | None = None
    allocated: str | None = None  # what PyTorch held: "76.50 GiB allocated by PyTorch"
    tried: str | None = None

    @classmethod
    def of(cls, error: BaseException, cuda: Any = None) -> GpuMemory:
        """Read from torch's message (``Tried to allocate 2.00 GiB. GPU 0 has a total capacity of
        79.25 GiB of which 1.06 GiB is free. ... 76.50 GiB is allocated by PyTorch``), the rest
        from ``cuda`` (``torch.cuda``) when it has a device."""
        text = str(error)

        def find(pattern: str) -> str | None:
            match = re.search(pattern, text)
            return match.group(1) if match else None

        index = find(r"GPU (\d+) has a total capacity")
        allocated = find(rf"{_SIZE} is allocated by PyTorch")
        found = cls(
            device=f"GPU {index}" if index is not None else None,
            total=find(rf"total capacity of {_SIZE}"),
            free=find(rf"of which {_SIZE} is free"),
            allocated=f"{allocated} allocated by PyTorch" if allocated else None,
            tried=find(rf"Tried to allocate {_SIZE}"),
        )
        if found.total is None and cuda is not None:
            found = dataclasses.replace(found, **_queried(cuda))
        return found

    def text(self) -> str:
        """`` on GPU 0 (79.25 GiB total, ...)``, or ``""`` when nothing is known."""
        parts = [
            *([f"{self.total} total"] if self.total else []),
            *([f"{self.free} free"] if self.free else []),
            *([self.allocated] if self.allocated else []),
        ]
        if self.tried:
            parts.append(f"it asked for {self.tried} more")
        inside = f" ({', '.join(parts)})" if parts else ""
        return f" on {self.device or 'the GPU'}{inside}" if inside or self.device else ""


def _gib(size: int) -> str:
    return f"{size / 2**30:.2f} GiB"


def _queried(cuda: Any) -> dict[str, str]:
    """The device's total and PyTorch's peak allocation from ``torch.cuda`` (nothing without a GPU)."""
    try:
        if not cuda.is_available():
            return {}
        index = int(cuda.current_device())
        total = int(cuda.get_device_properties(index).total_memory)
        peak = int(cuda.max_memory_allocated(index))
    except (RuntimeError, AssertionError):  # torch without CUDA raises AssertionError
        return {}
    return {
        "device": f"GPU {index}",
        "total": _gib(total),
        "allocated": f"{_gib(peak)} allocated by PyTorch at the peak",
    }


def gradient_accumulation_steps(cfg: Any) -> int | None:
    """The run's gradient accumulation steps; ``None`` where the installed lerobot has none (0.6.1)."""
    accumulation = getattr(getattr(cfg, "accelerator", None), "gradient_accumulation", None)
    steps = getattr(accumulation, "steps", None)
    return int(steps) if isinstance(steps, int) else None


def _checkpointing_field(policy: Any) -> tuple[str, bool] | None:
    """The policy config's gradient checkpointing field and its value, if it has one."""
    names = {f.name for f in dataclasses.fields(policy)} if dataclasses.is_dataclass(policy) else set()
    for name in CHECKPOINTING_FIELDS:
        if name in names:
            return name, bool(getattr(policy, name))
    return None


def knobs(cfg: Any, environ: Mapping[str, str]) -> list[str]:
    """The changes that lower this run's peak memory, each naming its flag and current value."""
    tips: list[str] = []
    batch = int(cfg.batch_size)
    if batch > 1:
        half = batch // 2
        tip = f"--batch_size={half} (now {batch})"
        accumulation = gradient_accumulation_steps(cfg)
        if accumulation is not None:
            more, now = accumulation * 2, batch * accumulation
            samples = (
                f"to keep {now} samples" if half * more == now else f"for {half * more} samples (now {now})"
            )
            tip += (
                f", with --accelerator.gradient_accumulation.steps={more} (now {accumulation}) {samples} "
                "per optimizer update (--steps then counts micro-batches)"
            )
        tips.append(tip)
    field = _checkpointing_field(cfg.policy) if cfg.policy is not None else None
    if field is not None and not field[1]:
        tips.append(f"--policy.{field[0]}=true (now false: recompute activations in the backward pass)")
    conf = environ.get("PYTORCH_CUDA_ALLOC_CONF", environ.get("PYTORCH_ALLOC_CONF", ""))
    if EXPANDABLE.lower() not in conf.replace(" ", "").lower():
        value = f"{conf},{EXPANDABLE}" if conf else EXPANDABLE
        tips.append(f"PYTORCH_CUDA_ALLOC_CONF={value} in the environment (less memory lost to fragmentation)")
    return tips


def how_to_continue(cfg: Any) -> str:
    """Which checkpoint is intact and the commands that continue from it."""
    if not cfg.save_checkpoint:
        return "Nothing was saved (--save_checkpoint=false)."
    if cfg.output_dir is None:
        return ""
    last = Path(cfg.output_dir) / "checkpoints" / "last"
    if not last.exists():
        return "No checkpoint was saved before it."
    saved = last / "pretrained_model" / "train_config.json"
    return (
        f"checkpoints/last (step {last.resolve().name}) is intact: the same command with "
        f"--auto_resume=true continues from it; to change flags as it continues, --resume=true "
        f"--config_path={saved} and the new flags."
    )


def where(exception: BaseException, last_step: int | None) -> str:
    """When the error happened, from the last step that completed and the traceback."""
    if last_step is None:
        return "before the first training step"
    names = [
        frame.name for error in _causes(exception) for frame in traceback.extract_tb(error.__traceback__)
    ]
    for function, words in _DURING:
        if function in names:
            return words.format(step=last_step)
    return f"in step {last_step + 1}"


def message(
    exception: BaseException,
    cfg: Any,
    last_step: int | None,
    environ: Mapping[str, str] | None = None,
    cuda: Any = None,
) -> str:
    """The one line a CUDA out-of-memory error becomes: ``exception`` is what training raised (the
    CUDA error, or an error raised from it), ``last_step`` the last step that completed."""
    import torch

    environ = os.environ if environ is None else environ
    cuda = torch.cuda if cuda is None else cuda
    gpu = GpuMemory.of(cuda_out_of_memory(exception) or exception, cuda).text()
    tips = knobs(cfg, environ)
    fit = f" To fit: {'; '.join(tips)}." if tips else ""
    after = how_to_continue(cfg)
    return f"CUDA out of memory {where(exception, last_step)}{gpu}.{fit}{' ' + after if after else ''}"
