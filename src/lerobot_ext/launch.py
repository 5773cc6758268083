"""Where this process stands in a torchrun / accelerate launch, known before the process group exists.

``configure`` runs before upstream creates its Accelerator, so a plugin that must do something once
per launch there (build a data cache, move an interrupted run aside) cannot ask the process group
yet. Both launchers set ``RANK`` and ``WORLD_SIZE`` for every process they start; a plain
``lerobot-train-ext`` is rank 0 of 1.
"""

from __future__ import annotations

import os


def _from_environment(name: str, default: int) -> int:
    # A value that is not a number is no launcher's: torch.distributed refuses it, and says so.
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def launch_rank() -> int:
    """This process's global rank in its launch (0 outside torchrun/accelerate)."""
    return _from_environment("RANK", 0)


def launch_world_size() -> int:
    """How many processes the launch started (1 outside torchrun/accelerate)."""
    return _from_environment("WORLD_SIZE", 1)
