"""Upstream's v2.1 -> v3.0 conversion steps, called one by one from source to a new folder.

``lerobot.scripts.convert_dataset_v21_to_v30.convert_dataset`` converts in place (the original is
moved to ``<name>_old``), may download and push to the Hub, and checks nothing afterwards. Its
steps do the actual work and only read ``root`` and write ``new_root``, so lerobot-ext calls those
and nothing else: never ``convert_dataset``, ``snapshot_download`` or ``HfApi``.

The steps and their parameters are the same in every tested lerobot (0.6.1 and 0.6.2); they are
called by keyword, and ``upstream_names`` declares each parameter, so ``lerobot-ext doctor``
names a renamed one instead of a conversion failing on it. Where a later release differs, this
module holds the difference (a table keyed by version, ``lerobot_ext.for_installed``).

What the steps do to the data, which the verification relies on:
- ``convert_data``: concatenates the episodes' parquet files (sorted by path) with pandas, numbering
  the episodes 0..N-1 in that order;
- ``convert_videos``: concatenates each camera's episode files with ``concatenate_video_files``,
  a remux (stream copy, no re-encoding): the same packets, so the same decoded pixels;
- ``convert_episodes_metadata``: the v3 episodes table, with v2.1's per-episode stats, and
  ``meta/stats.json`` aggregated from them (nothing is recomputed from the data).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from lerobot_ext import LerobotExtError

MODULE = "lerobot.scripts.convert_dataset_v21_to_v30"


class ConversionError(LerobotExtError):
    """Conversion could not be done, or its result does not match its source; says which and why."""


def upstream_converter() -> ModuleType:
    """Upstream's converter module (it needs ``jsonlines``, from ``lerobot[dataset]``)."""
    import importlib

    try:
        return importlib.import_module(MODULE)
    except ImportError as exc:
        raise ConversionError(
            f"lerobot's dataset converter ({MODULE}) cannot be imported ({str(exc).splitlines()[0]}); "
            "pip install 'lerobot[dataset]' (it needs jsonlines), then `lerobot-ext doctor`"
        ) from exc


@dataclass(frozen=True)
class Step:
    """One upstream step: its name (as upstream spells it) and what it does, for the progress bar."""

    name: str
    what: str


STEPS: tuple[Step, ...] = (
    Step("convert_info", "meta/info.json"),
    Step("convert_tasks", "meta/tasks.parquet"),
    Step("convert_data", "data files"),
    Step("convert_videos", "video files"),
    Step("convert_episodes_metadata", "meta/episodes and meta/stats.json"),
)


@contextlib.contextmanager
def quiet_upstream() -> Iterator[None]:
    """Upstream's converter logs each step at INFO and warns that v2.1's ``info.json`` has fields
    v3 does not know (``total_chunks``, ``total_videos``: the very fields it removes); HF datasets
    draws its own bars for the episodes table. Our progress bar says all of it; errors still show."""
    names = ("lerobot", MODULE, "root")
    loggers = [logging.getLogger(n if n != "root" else None) for n in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    import datasets

    bars = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
        if bars:
            datasets.enable_progress_bars()


def run_steps(
    source: Path,
    target: Path,
    data_file_size_in_mb: int,
    video_file_size_in_mb: int,
    on_step: Callable[[Step], None],
) -> None:
    """Upstream's steps from ``source`` (a v2.1 layout, read only) into ``target`` (a new folder).

    ``on_step`` is called before each step (the progress bar). An upstream failure becomes one
    ``ConversionError`` line naming the step; the caller removes ``target``.
    """
    from datasets.exceptions import DatasetsError

    upstream = upstream_converter()
    results: dict[str, Any] = {}
    calls: dict[str, Callable[[], Any]] = {
        "convert_info": lambda: upstream.convert_info(
            root=source,
            new_root=target,
            data_file_size_in_mb=data_file_size_in_mb,
            video_file_size_in_mb=video_file_size_in_mb,
        ),
        "convert_tasks": lambda: upstream.convert_tasks(root=source, new_root=target),
        "convert_data": lambda: upstream.convert_data(
            root=source, new_root=target, data_file_size_in_mb=data_file_size_in_mb
        ),
        "convert_videos": lambda: upstream.convert_videos(
            root=source, new_root=target, video_file_size_in_mb=video_file_size_in_mb
        ),
        "convert_episodes_metadata": lambda: upstream.convert_episodes_metadata(
            root=source,
            new_root=target,
            episodes_metadata=results["convert_data"],
            episodes_video_metadata=results["convert_videos"],
        ),
    }
    with quiet_upstream():
        for step in STEPS:
            on_step(step)
            try:
                results[step.name] = calls[step.name]()
            except (OSError, ValueError, KeyError, IndexError, TypeError, RuntimeError, DatasetsError) as exc:
                # Upstream raises plain ValueErrors (episode counts that differ between data,
                # videos and episodes.jsonl) and KeyErrors (a field missing from info.json); pyav
                # and pyarrow raise OSError/ValueError subclasses; HF datasets writes the episodes.
                message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise ConversionError(
                    f"upstream's {step.name} ({step.what}) failed: {type(exc).__name__}: {message}"
                ) from exc
