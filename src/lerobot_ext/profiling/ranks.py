"""Collecting every rank's timings in the main process.

Through the process group's key-value store, not tensor collectives: a gloo ``all_gather``
leaves work objects that hold Python tensors, and if one is still alive when upstream tears the
process group down, its destructor waits for the GIL that the tearing-down thread holds - the
run hangs at exit (seen with torchrun on CPU). Store reads need no process-group work at all.
"""

from __future__ import annotations

import pickle
from typing import Any

_PREFIX = "lerobot_ext/profile"


def _store() -> tuple[Any, int] | None:
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return None
    from torch.distributed import distributed_c10d

    return distributed_c10d._get_default_store(), dist.get_rank()


def gather_to_main(obj: Any, world_size: int, key: str) -> list[Any] | None:
    """Every rank's ``obj`` in rank order on rank 0 (``None`` on the others); ``[obj]`` alone.

    Every rank must call it with the same ``key``, once per key. Rank 0 blocks until all ranks
    have published theirs; the others return at once.
    """
    found = _store() if world_size > 1 else None
    if found is None:
        return [obj]
    store, rank = found
    store.set(f"{_PREFIX}/{key}/{rank}", pickle.dumps(obj))
    if rank != 0:
        return None
    gathered = []
    for other in range(world_size):
        name = f"{_PREFIX}/{key}/{other}"
        gathered.append(pickle.loads(store.get(name)))
        store.delete_key(name)
    return gathered
