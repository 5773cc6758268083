"""The hooks the ``profiler`` plugin adds for other plugins (through ``register_hookspecs``).

Implement them with ``@hookimpl(optionalhook=True)``: the hook exists only while the profiler is
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


@hookspec
def profile_notes(cfg: Any, run: Any) -> list[str] | None:
    """Facts a plugin adds to the profile report (``report.txt``, ``summary.json``'s ``notes``).

    Called once, in the main process, when the profile report is written, before the verdict.

    :param run: the run's :class:`~lerobot_ext.RunContext` (what the plugin kept in ``run.stash``).
    :return: ``None`` or lines, each a fact about what the profiled steps did (e.g. the share of
        the samples each mixed dataset gave); printed in hook order.
    """
