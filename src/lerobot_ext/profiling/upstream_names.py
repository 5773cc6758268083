"""The upstream names the ``profiler`` plugin relies on (``lerobot-ext doctor`` checks them).

``--profile`` keeps its own clocks rather than reading lerobot's step timers: lerobot 0.6.1 logs
only ``data_s`` and ``updt_s``, 0.6.2 adds ``prep_s`` and ``step_s``, and neither splits the update
into forward, backward and optimizer (the phases are marked through the seams instead).
"""

from __future__ import annotations

from collections.abc import Callable

NAMES: tuple[tuple[str, str], ...] = (
    (
        "torch.distributed.distributed_c10d._get_default_store",
        "every rank's timings reach the main process through the process group's store (no "
        "collectives that could hang at exit)",
    ),
    ("torch.distributed.Store.set", "each rank publishes its timings"),
    ("torch.distributed.Store.get", "the main process reads them"),
    ("torch.distributed.Store.delete_key", "and removes them"),
)


def declare(register: Callable[..., None]) -> None:
    """Declare the names (``register_upstream_names``'s ``register``)."""
    for path, why in NAMES:
        register(path, why)
