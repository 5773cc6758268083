"""Which LeRobot dataset format a folder holds, and a one-line refusal for one lerobot 0.6 cannot read.

Cheap on purpose (reads ``meta/info.json``, imports nothing heavy): it runs wherever a dataset is
named, before lerobot opens the folder - lerobot's own refusal of a v2.1 dataset is a traceback,
and before that a v2.1 folder looks merely incomplete (no ``meta/stats.json``,
``meta/tasks.parquet``, ``meta/episodes/``), which names neither the format nor the fix.

Part of the core (and the public API) because the core's dataset checks, ``inspect``, the data
cache and ``lerobot-ext convert`` all call it, and features do not import each other.
"""

from __future__ import annotations

import json
import shlex
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from lerobot_ext.errors import ConfigError

INFO = "meta/info.json"
#: lerobot <= 0.1 kept its info here (v1.x datasets); only read to name the version.
V1_INFO = "meta_data/info.json"
#: The formats ``lerobot-ext convert`` turns into v3.0 (its ``layout.READS``; repeated here so that
#: this module stands alone).
CONVERTIBLE = ("v2.0", "v2.1")
#: The format lerobot 0.6.x reads (lerobot.datasets.dataset_metadata.CODEBASE_VERSION).
CURRENT_MAJOR = 3


def dataset_version(root: str | Path) -> str | None:
    """The ``codebase_version`` of the dataset in ``root`` (``"v2.1"``, ``"v3.0"``, ...), or
    ``None`` when ``root`` holds no readable LeRobot info file (not a dataset: other checks say so)."""
    root = Path(root).expanduser()
    for name in (INFO, V1_INFO):
        try:
            info = json.loads((root / name).read_text())
        except (OSError, ValueError):
            continue
        found = info.get("codebase_version") if isinstance(info, dict) else None
        return str(found) if found else None
    return None


def _major(text: str) -> int | None:
    try:
        return int(text.lstrip("vV").split(".")[0])
    except ValueError:
        return None


def converted_path(root: str | Path) -> Path:
    """Where ``lerobot-ext convert`` is suggested to write a converted copy: ``<root>_v30`` beside it."""
    root = Path(root).expanduser()
    return root.with_name(f"{root.name}_v30")


def _lerobot() -> str:
    try:
        return f"lerobot {version('lerobot')}"
    except PackageNotFoundError:
        return "lerobot"


def version_problem(root: str | Path, flag_name: str | None = "--dataset.root") -> str | None:
    """The one line that says why lerobot cannot read ``root`` and what to run, or ``None``
    (a v3.x dataset, or no dataset at all: the caller's other checks speak for that).

    :param flag_name: how the user named the folder (``--dataset.root``, ``--dataset.mix``);
        ``None`` for a positional argument (``lerobot-ext inspect DIR``).
    """
    found = dataset_version(root)
    if found is None:
        return None
    major = _major(found)
    if major == CURRENT_MAJOR:
        return None
    root = Path(root).expanduser()
    named = f"{flag_name}={root}" if flag_name else str(root)
    if found in CONVERTIBLE:
        target = converted_path(root)
        then = f"{flag_name}={target}" if flag_name else f"use {target}"
        return (
            f"{named} is a LeRobot {found} dataset; {_lerobot()} reads v3.0: "
            f"lerobot-ext convert {shlex.quote(str(root))} {shlex.quote(str(target))} (then {then})"
        )
    if major is not None and major > CURRENT_MAJOR:
        return f"{named} is a LeRobot {found} dataset, newer than {_lerobot()} reads (v3.0): upgrade lerobot"
    return (
        f"{named} is a LeRobot {found} dataset; {_lerobot()} reads v3.0 and lerobot-ext convert reads "
        f"{' and '.join(CONVERTIBLE)}: convert it to v2.1 with an older lerobot first"
    )


def check_dataset_version(root: str | Path, flag_name: str | None = "--dataset.root") -> None:
    """Raise a one-line ``ConfigError`` when ``root`` holds a LeRobot dataset of a format
    lerobot 0.6 cannot read (v2.0/v2.1: with the ``lerobot-ext convert`` command that converts it)."""
    problem = version_problem(root, flag_name)
    if problem is not None:
        raise ConfigError(problem)
