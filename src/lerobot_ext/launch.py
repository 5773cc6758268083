"""Where this process stands in a torchrun / accelerate launch, known before the process group exists.

``configure`` runs before upstream creates its Accelerator, so a plugin that must do something once
per launch there (build a data cache, move an interrupted run aside) cannot ask the process group
yet. Both launchers set ``RANK`` and ``WORLD_SIZE`` for every process they start; a plain
``lerobot-train-ext`` is rank 0 of 1.
"""

from __future__ import annotations

import os


def launch_rank() -> int:
    """This process's global rank in its launch (0 outside torchrun/accelerate)."""
    return int(os.environ.get("RANK", "0"))


def launch_world_size() -> int:
    """How many processes the launch started (1 outside torchrun/accelerate)."""
    return int(os.environ.get("WORLD_SIZE", "1"))
