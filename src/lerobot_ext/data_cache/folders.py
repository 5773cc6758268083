"""What a folder is - missing, empty, one of our caches, or someone else's - and where a cache may go.

The rule that keeps a user's data safe: lerobot-ext deletes or replaces only folders laid out
exactly as a build writes them (its marker file, ``manifest.json``, ``columns/*.npy``,
``frames/*.npy``), and without a manifest only a folder its build marked. A folder holding
anything else - a dataset, a checkpoint, any file it did not write - is never touched, whatever
``--overwrite`` says.
"""

from __future__ import annotations

import enum
from pathlib import Path

from lerobot_ext.data_cache.errors import DataCacheError

MANIFEST = "manifest.json"
# Written first into every build's folder: what tells one of our caches (even one whose build
# died before its manifest) from a user's folder that happens to hold ``frames/*.npy``.
MARKER = ".lerobot-ext-data-cache"
# Everything a build writes at the top of a cache folder, and the sub-folders of arrays.
TOP_LEVEL = frozenset({MARKER, MANIFEST, MANIFEST + ".tmp"})
ARRAY_DIRS = frozenset({"columns", "frames"})


class FolderState(enum.Enum):
    MISSING = "missing"
    EMPTY = "empty"
    CACHE = "a data cache"
    DAMAGED = "a damaged data cache (no manifest.json)"
    FOREIGN = "not a data cache"


def foreign_entries(folder: Path) -> list[str]:
    """The entries of ``folder`` a build would not have written (empty: the layout is ours)."""
    found = []
    for entry in sorted(folder.iterdir()):
        if entry.is_symlink():
            found.append(entry.name)
        elif entry.name in ARRAY_DIRS and entry.is_dir():
            found.extend(
                f"{entry.name}/{inner.name}"
                for inner in sorted(entry.iterdir())
                if inner.is_symlink() or not inner.is_file() or inner.suffix != ".npy"
            )
        elif entry.name not in TOP_LEVEL or not entry.is_file():
            found.append(entry.name)
    return found


def classify(folder: Path) -> FolderState:
    """Whether ``folder`` is missing, empty, a cache of ours (complete or not), or something else."""
    if not folder.exists() and not folder.is_symlink():
        return FolderState.MISSING
    if folder.is_symlink() or not folder.is_dir():
        return FolderState.FOREIGN
    if not any(folder.iterdir()):
        return FolderState.EMPTY
    if foreign_entries(folder):
        return FolderState.FOREIGN
    if (folder / MANIFEST).is_file():
        return FolderState.CACHE
    # Arrays without a manifest are ours only if a build marked the folder.
    return FolderState.DAMAGED if (folder / MARKER).is_file() else FolderState.FOREIGN


def describe_foreign(folder: Path) -> str:
    if folder.is_symlink() or not folder.is_dir():
        return f"{folder} is not a folder"
    entries = foreign_entries(folder)
    shown = ", ".join(entries[:3]) + (f" and {len(entries) - 3} more" if len(entries) > 3 else "")
    return f"{folder} is not a data cache (it holds {shown}, which lerobot-ext did not write)"


def check_placement(root: Path, cache_dir: Path) -> None:
    """Refuse a cache folder that is the dataset, is inside it, or holds it (both resolved)."""
    if cache_dir == root or root in cache_dir.parents:
        raise DataCacheError(
            f"the cache folder {cache_dir} is inside the dataset {root}; put the cache elsewhere, "
            f"e.g. {root.parent / (root.name + '_cache')}"
        )
    if cache_dir in root.parents:
        raise DataCacheError(
            f"the cache folder {cache_dir} contains the dataset {root}; a cache needs a folder of its "
            f"own, e.g. {cache_dir / (root.name + '_cache')}"
        )
