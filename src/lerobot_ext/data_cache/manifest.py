"""What a cache holds and what it was built from, and whether that still holds.

The manifest is the last file a build writes: a folder without one is not a cache. It records
every source file of the dataset (size, modification time, SHA-256), the decoder backend and the
library versions, and the layout and size of each cached array file. A cache is stale - and never
served - when a source file was added, removed or changed, or when training would decode with
another backend or another lerobot than the one that built it; it is damaged - and never served -
when its manifest cannot be read or an array file is missing or not the size the manifest records.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lerobot_ext import installed_version
from lerobot_ext.data_cache.errors import DamagedCacheError, DataCacheError
from lerobot_ext.data_cache.folders import MANIFEST

# 2: each array's file size is recorded; 3: the marker file, no "notes" (older caches are refused: rebuild them).
FORMAT = 3


def rebuild_command(root: object, cache_dir: object) -> str:
    """The command that rebuilds the cache of ``root`` in ``cache_dir`` (what every refusal suggests)."""
    return f"lerobot-ext cache build {root} --cache_dir {cache_dir} --overwrite"


# The parts of a LeRobot v3.0 dataset folder the items are made from.
SOURCE_DIRS = ("meta", "data", "videos")
HASH_CHUNK = 8 << 20


@dataclass(frozen=True)
class SourceFile:
    path: str  # relative to the dataset root
    size: int
    mtime_ns: int
    sha256: str


@dataclass
class ArraySpec:
    """One cached array: a row per frame of the dataset, in the dataset's absolute frame order."""

    file: str
    dtype: str
    shape: list[int]  # of one frame's value
    kind: str  # "column" (parquet), "rgb" (uint8 video frames), "depth" (raw depth video frames)
    file_bytes: int = -1  # the .npy file's size, header included (-1: not yet written)

    @property
    def bytes_per_frame(self) -> int:
        import numpy as np

        return int(np.dtype(self.dtype).itemsize * max(1, int(np.prod(self.shape))))


@dataclass
class Manifest:
    dataset_root: str
    repo_id: str
    total_frames: int
    total_episodes: int
    fps: int
    backend: str
    versions: dict[str, str]
    files: list[SourceFile]
    arrays: dict[str, ArraySpec]
    build_seconds: float = 0.0
    format: int = FORMAT

    @property
    def bytes(self) -> int:
        return sum(spec.bytes_per_frame for spec in self.arrays.values()) * self.total_frames

    @property
    def cameras(self) -> dict[str, ArraySpec]:
        return {key: spec for key, spec in self.arrays.items() if spec.kind in ("rgb", "depth")}

    def save(self, folder: Path) -> None:
        payload = asdict(self)
        tmp = folder / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(payload, indent=2) + "\n")
        with open(tmp) as f:
            os.fsync(f.fileno())
        tmp.rename(folder / MANIFEST)

    @classmethod
    def load(cls, folder: Path) -> Manifest:
        path = Path(folder) / MANIFEST
        if not path.is_file():
            partial = sorted(Path(folder).parent.glob(Path(folder).name + ".partial*"))
            hint = f" ({partial[0]} is an interrupted build)" if partial else ""
            raise DataCacheError(
                f"{folder} is not a complete data cache (no {MANIFEST}){hint}; build one with "
                f"`lerobot-ext cache build <dataset root> --cache_dir {folder}`"
            )
        try:
            data = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DamagedCacheError(
                f"the data cache at {folder} is damaged: its {MANIFEST} cannot be read ({exc}); rebuild "
                f"it with `{rebuild_command('<dataset root>', folder)}`"
            ) from None
        version = data.get("format") if isinstance(data, dict) else None
        if version != FORMAT:
            root = data.get("dataset_root", "<dataset root>") if isinstance(data, dict) else "<dataset root>"
            raise DataCacheError(
                f"{folder} was written by another version of lerobot-ext (cache format {version}, "
                f"this one reads {FORMAT}); rebuild it with `{rebuild_command(root, folder)}`"
            )
        try:
            data["files"] = [SourceFile(**f) for f in data["files"]]
            data["arrays"] = {k: ArraySpec(**v) for k, v in data["arrays"].items()}
            return cls(**data)
        except (KeyError, TypeError, AttributeError) as exc:
            raise DamagedCacheError(
                f"the data cache at {folder} is damaged: its {MANIFEST} is incomplete ({exc!r}); rebuild "
                f"it with `{rebuild_command(data.get('dataset_root', '<dataset root>'), folder)}`"
            ) from None

    def damage(self, folder: Path) -> list[str]:
        """What is wrong with the array files in ``folder`` (empty: each is there, at its recorded
        size, with the shape and dtype the manifest says). Cheap: a stat and a header per file."""
        import numpy as np

        problems = []
        for spec in self.arrays.values():
            path = Path(folder) / spec.file
            if not path.is_file():
                problems.append(f"{spec.file} is missing")
                continue
            size = path.stat().st_size
            if size != spec.file_bytes:
                problems.append(f"{spec.file} has {size} bytes, the manifest says {spec.file_bytes}")
                continue
            try:
                array = np.load(path, mmap_mode="r")
            except (OSError, ValueError) as exc:
                problems.append(f"{spec.file} cannot be read ({exc})")
                continue
            expected = (self.total_frames, *spec.shape)
            if array.shape != expected or array.dtype.str != spec.dtype:
                problems.append(
                    f"{spec.file} holds {array.dtype.str}{list(array.shape)}, the manifest says "
                    f"{spec.dtype}{list(expected)}"
                )
        return problems

    def check_intact(self, folder: Path) -> None:
        """Raise :class:`DamagedCacheError` (saying how to rebuild) if :meth:`damage` finds anything."""
        problems = self.damage(folder)
        if problems:
            raise DamagedCacheError(
                f"the data cache at {folder} is damaged - {'; '.join(problems[:3])}"
                f"{f' (and {len(problems) - 3} more)' if len(problems) > 3 else ''}. It is never served "
                f"damaged: rebuild it with `{rebuild_command(self.dataset_root, folder)}`"
            )


def source_paths(root: Path) -> list[Path]:
    """Every file the dataset's items are made from, relative to ``root``, sorted."""
    found = []
    for name in SOURCE_DIRS:
        top = root / name
        if top.is_dir():
            found.extend(
                p.relative_to(root) for p in top.rglob("*") if p.is_file() and not p.name.startswith(".")
            )
    return sorted(found)


def sha256(path: Path, progress: Any = None) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(HASH_CHUNK):
            digest.update(chunk)
            if progress is not None:
                progress.update(len(chunk))
    return digest.hexdigest()


def fingerprint(root: Path, show_progress: bool = False) -> list[SourceFile]:
    """Size, modification time and SHA-256 of every source file (hashing shows a progress bar)."""
    from tqdm import tqdm

    paths = source_paths(root)
    total = sum((root / p).stat().st_size for p in paths)
    with tqdm(
        total=total, unit="B", unit_scale=True, desc="hashing dataset files", disable=not show_progress
    ) as bar:
        out = []
        for relative in paths:
            stat = (root / relative).stat()
            out.append(
                SourceFile(relative.as_posix(), stat.st_size, stat.st_mtime_ns, sha256(root / relative, bar))
            )
    return out


def stale_reasons(manifest: Manifest, root: Path, backend: str, versions: dict[str, str]) -> list[str]:
    """Why the cache no longer matches ``root`` / this run (empty when it matches).

    A file whose size and modification time are unchanged is trusted; one whose time changed is
    hashed again, so touching a file does not make a cache stale but editing it does.
    """
    reasons = []
    if backend != manifest.backend:
        reasons.append(f"it was decoded with {manifest.backend}, this run decodes with {backend}")
    for name, version in versions.items():
        if manifest.versions.get(name) != version:
            reasons.append(
                f"it was built with {name} {manifest.versions.get(name)}, this is {name} {version}"
            )
    return reasons + changed_files(manifest.files, root)


def changed_files(files: list[SourceFile], root: Path) -> list[str]:
    """How the source files under ``root`` differ from ``files`` (empty: they do not)."""
    reasons = []
    recorded = {f.path: f for f in files}
    present = {p.as_posix() for p in source_paths(root)}
    for path in sorted(present - set(recorded)):
        reasons.append(f"{path} was added to the dataset")
    for path in sorted(set(recorded) - present):
        reasons.append(f"{path} was removed from the dataset")
    for path in sorted(present & set(recorded)):
        saved, stat = recorded[path], (root / path).stat()
        if stat.st_size != saved.size:
            reasons.append(f"{path} changed size ({saved.size} -> {stat.st_size} bytes)")
        elif stat.st_mtime_ns != saved.mtime_ns and sha256(root / path) != saved.sha256:
            reasons.append(f"{path} changed (different contents)")
    return reasons


def decoder_versions(backend: str) -> dict[str, str]:
    """The libraries whose versions decide what an item is: lerobot (how items are made), PyAV
    (it decodes depth whatever the backend) and torchcodec when it is the backend."""

    names = ["lerobot", "av", *(["torchcodec"] if backend == "torchcodec" else [])]
    return {name: installed_version(name) for name in names}
