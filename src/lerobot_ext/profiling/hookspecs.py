"""The hook the ``profiler`` plugin adds for other plugins (through ``register_hookspecs``).

Implement it with ``@hookimpl(optionalhook=True)``: the hook exists only while the profiler is
loaded, and ``optionalhook`` keeps a plugin valid without it.
"""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("lerobot_ext")


@hookspec
def profile_advice(
    cfg: Any, verdict: str, data_wait_percent: float, settings: dict[str, Any]
) -> list[str] | None:
    """Next steps a plugin can offer for the run ``--profile`` just measured.

    Called once, in the main process, when the profile report is written.

    :param verdict: ``"NOT"``, ``"MODERATELY"`` or ``"HIGHLY"`` (data-bound).
    :param data_wait_percent: the share of each step spent waiting for the DataLoader.
    :param settings: the run's settings the report refers to: ``num_workers``, ``batch_size``,
        ``video_backend``, ``cameras`` (how many the policy uses), ``n_obs_steps``, ``device``,
        ``world_size``, ``cpu_count``, ...
    :return: ``None`` or tips, each naming a flag and its current value; they are printed after
        the profiler's own, in hook order.
    """
