"""``SRC`` (LeRobot v2.0/v2.1) -> ``DST`` (v3.0): offline, atomically, verified.

- offline: only upstream's conversion steps run (``upstream_steps``); nothing downloads or pushes;
- ``SRC`` is only read (a v2.0 source, or any with ``recompute_stats``, through a small v2.1 view with
  episode statistics computed from the data, ``stats_view``);
- atomic: everything is written into ``DST.partial`` (beside ``DST``, so the final rename stays on
  one filesystem), verified there against ``SRC``, and only then renamed to ``DST``. An exception
  or Ctrl-C removes ``DST.partial``; a killed process leaves it, marked as ours, and the next
  conversion to ``DST`` removes it. ``--overwrite`` swaps an existing ``DST`` out only after the new
  one is verified, so an interrupted overwrite keeps the old one;
- a failed verification keeps the converted copy as ``DST.failed`` (marked, replaced by the next
  failure), for a look at what differs; ``DST`` itself is not created.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from lerobot_ext import dataset_version
from lerobot_ext.convert import stats_view
from lerobot_ext.convert.layout import READS, SourceLayout
from lerobot_ext.convert.upstream_steps import STEPS, ConversionError, Step, run_steps
from lerobot_ext.convert.verify import Verification, verify_conversion

#: Inside DST.partial and DST.failed: says the folder is a conversion's own (safe to remove).
MARKER = ".lerobot-ext-convert"
#: Upstream's defaults (lerobot.datasets.utils.DEFAULT_DATA/VIDEO_FILE_SIZE_IN_MB), read lazily.
DEFAULT_SIZES = "upstream's defaults"


class VerificationFailed(ConversionError):
    """The converted dataset differs from its source; ``verification.problems`` says where."""

    def __init__(self, verification: Verification, kept: Path) -> None:
        self.verification = verification
        self.kept = kept
        super().__init__(
            f"the converted dataset differs from {verification.source} in {len(verification.problems)} "
            f"place(s); {verification.target} was not written (the converted copy is kept in {kept} to look at)"
        )


@dataclass
class Converted:
    source: Path
    target: Path
    version: str
    seconds: float
    verification: Verification


def _ours(folder: Path) -> bool:
    return (folder / MARKER).is_file()


def _inside(path: Path, folder: Path) -> bool:
    path, folder = path.resolve(), folder.resolve()  # through symbolic links too
    return path == folder or folder in path.parents


def _size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def check_source(source: Path, recompute_stats: bool = False) -> SourceLayout:
    """The source's layout, or one line on why it cannot be converted."""
    if not source.is_dir():
        raise ConversionError(f"{source} is not a folder")
    found = dataset_version(source)
    if found is None:
        raise ConversionError(
            f"{source} is not a LeRobot dataset (no readable meta/info.json with a codebase_version)"
        )
    if found.startswith("v3"):
        raise ConversionError(
            f"{source} is already a LeRobot {found} dataset: nothing to convert (train on it with --dataset.root={source})"
        )
    if found not in READS:
        raise ConversionError(
            f"{source} is a LeRobot {found} dataset; lerobot-ext convert reads {' and '.join(READS)} only"
        )
    layout = SourceLayout(source)
    problems = layout.problems(stats_needed=not recompute_stats and found == "v2.1")
    if problems:
        raise ConversionError(f"{source} ({found}) cannot be converted as it is: {'; '.join(problems)}")
    return layout


def check_target(source: Path, target: Path, overwrite: bool) -> None:
    """Refuse a target that is, holds or is held by the source, or exists (without ``overwrite``:
    and even with it, unless it is a LeRobot dataset or empty - never an arbitrary folder)."""
    if _inside(target, source) or _inside(source, target):
        raise ConversionError(f"{target}: write the converted dataset outside {source} (and not around it)")
    if not target.exists():
        return
    if not overwrite:
        raise ConversionError(
            f"{target} already exists; choose another folder, or pass --overwrite to replace it"
        )
    if not target.is_dir() or not ((target / "meta" / "info.json").is_file() or not any(target.iterdir())):
        raise ConversionError(
            f"{target} exists and is not a LeRobot dataset; --overwrite replaces a dataset only, so remove it yourself"
        )


def _fresh(folder: Path, what: str) -> None:
    """Remove a leftover ``folder`` of an earlier conversion (only one marked as ours)."""
    if not folder.exists():
        return
    if not _ours(folder):
        raise ConversionError(
            f"{folder} exists and is not an earlier conversion's {what}; move it away first"
        )
    shutil.rmtree(folder)


def _place(staging: Path, target: Path) -> None:
    """Rename the verified ``staging`` to ``target``, swapping an old ``target`` out only now."""
    (staging / MARKER).unlink()
    if not target.exists():
        os.replace(staging, target)
        return
    old = target.with_name(f"{target.name}.replaced")
    _fresh(old, "replaced dataset")
    os.replace(target, old)
    (old / MARKER).touch()  # so that a crash right here leaves a folder the next run may remove
    os.replace(staging, target)
    shutil.rmtree(old)


def convert(
    source: str | Path,
    target: str | Path,
    overwrite: bool = False,
    data_file_size_in_mb: int | None = None,
    video_file_size_in_mb: int | None = None,
    recompute_stats: bool = False,
    show_progress: bool = True,
    on_verified: Callable[[Verification], None] | None = None,
) -> Converted:
    """Convert the v2.0/v2.1 dataset ``source`` into a new v3.0 dataset ``target``, verified.

    Raises ``ConversionError`` (one line) for a source or target it refuses, or a failed step;
    ``VerificationFailed`` when the result differs from the source. ``on_verified`` sees the
    verification before the result is put in place (the command prints it). ``recompute_stats``:
    compute each episode's statistics from the data instead of taking v2.1's (always, for v2.0).
    """
    from lerobot.datasets.utils import DEFAULT_DATA_FILE_SIZE_IN_MB, DEFAULT_VIDEO_FILE_SIZE_IN_MB

    source, target = Path(source).expanduser().absolute(), Path(target).expanduser().absolute()
    layout = check_source(source, recompute_stats)
    check_target(source, target, overwrite)
    data_mb = DEFAULT_DATA_FILE_SIZE_IN_MB if data_file_size_in_mb is None else data_file_size_in_mb
    video_mb = DEFAULT_VIDEO_FILE_SIZE_IN_MB if video_file_size_in_mb is None else video_file_size_in_mb
    if data_mb < 1 or video_mb < 1:
        raise ConversionError("--data-file-size-in-mb and --video-file-size-in-mb must be at least 1")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f"{target.name}.partial")
    failed = target.with_name(f"{target.name}.failed")
    _fresh(staging, "partial output")
    needed, free = _size(source), shutil.disk_usage(target.parent).free
    if needed > free:
        raise ConversionError(
            f"{target.parent} has {free / 1e9:.1f} GB free; the converted dataset needs about {needed / 1e9:.1f} GB"
        )
    start = time.monotonic()
    steps = [*STEPS, Step("verify", "compare with the source")]
    recompute = recompute_stats or layout.version == "v2.0"
    if recompute:
        steps.insert(0, Step("episode_stats", "statistics of each episode"))
    bar = tqdm(
        total=len(steps), desc=f"convert {layout.version} -> v3.0", unit="step", disable=not show_progress
    )

    def on_step(step: Step) -> None:
        bar.set_postfix_str(step.what)
        if step.name != steps[0].name:
            bar.update(1)

    staging.mkdir()
    (staging / MARKER).touch()
    try:
        with tempfile.TemporaryDirectory(prefix="lerobot-ext-convert-") as scratch:
            steps_source = source
            if recompute:
                on_step(steps[0])
                steps_source = stats_view.v21_view(layout, Path(scratch) / "v21")
            run_steps(steps_source, staging, data_mb, video_mb, on_step)
        on_step(steps[-1])
        verification = verify_conversion(source, staging, show_progress=show_progress)
        bar.update(1)
        bar.close()
        verification.target = str(target)
        if on_verified is not None:
            on_verified(verification)
        if not verification.ok:
            _fresh(failed, "failed output")
            os.replace(staging, failed)
            raise VerificationFailed(verification, failed)
        _place(staging, target)
    except BaseException:
        bar.close()
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Converted(source, target, layout.version, time.monotonic() - start, verification)
