"""Collecting every rank's timings in the main process (the process group is alive when we call)."""

from __future__ import annotations

from typing import Any


def _dist() -> Any:
    import torch.distributed as dist

    return dist if dist.is_available() and dist.is_initialized() else None


def gather_objects(obj: Any, world_size: int) -> list[Any]:
    """Every rank's ``obj``, in rank order (just ``[obj]`` without a process group). Collective."""
    dist = _dist()
    if dist is None or world_size <= 1:
        return [obj]
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, obj)
    return gathered
