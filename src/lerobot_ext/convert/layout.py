"""A LeRobot v2.0/v2.1 dataset folder, read (never written): its metadata, where each episode's
files are, and what is missing before upstream's converter would trip over it.

Upstream's steps pair files by their sorted paths (``data/*/*.parquet``, ``videos/*/<camera>/*.mp4``)
and number the episodes 0..N-1 in that order; a missing or extra file would shift every episode
after it, so :meth:`SourceLayout.problems` refuses such a folder first, in one line.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

#: The formats this layout (and upstream's converter, through it) reads.
READS = ("v2.0", "v2.1")
EPISODES = "meta/episodes.jsonl"
TASKS = "meta/tasks.jsonl"
EPISODES_STATS = "meta/episodes_stats.jsonl"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def column_array(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A parquet column as numpy: (rows,) for scalars, (rows, width) for (fixed-size) lists."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if (
        pa.types.is_list(array.type)
        or pa.types.is_large_list(array.type)
        or pa.types.is_fixed_size_list(array.type)
    ):
        values = array.flatten().to_numpy(zero_copy_only=False)
        rows = len(array)
        return values.reshape(rows, -1) if rows else values.reshape(0, 0)
    return array.to_numpy(zero_copy_only=False)


def is_numeric(kind: pa.DataType) -> bool:
    """Integers, floats and booleans, alone or in (fixed-size) lists: the columns compared value for value."""
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        kind = kind.value_type
    return pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)


def _first(items: list[str], limit: int = 3) -> str:
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


@dataclass(frozen=True)
class SourceLayout:
    root: Path

    @functools.cached_property
    def info(self) -> dict[str, Any]:
        return json.loads((self.root / "meta" / "info.json").read_text())

    @property
    def version(self) -> str:
        return str(self.info.get("codebase_version"))

    @property
    def features(self) -> dict[str, Any]:
        return self.info["features"]

    @property
    def fps(self) -> float:
        return float(self.info["fps"])

    @property
    def camera_keys(self) -> list[str]:
        return sorted(k for k, f in self.features.items() if f["dtype"] in ("video", "image"))

    @property
    def video_keys(self) -> list[str]:
        return sorted(k for k, f in self.features.items() if f["dtype"] == "video")

    def is_depth(self, key: str) -> bool:
        info = self.features[key].get("info") or {}
        return bool(info.get("video.is_depth_map") or info.get("is_depth_map"))

    @functools.cached_property
    def episodes(self) -> list[dict[str, Any]]:
        """``meta/episodes.jsonl``, sorted by episode index (upstream's order)."""
        return sorted(read_jsonl(self.root / EPISODES), key=lambda row: row["episode_index"])

    @property
    def episode_indices(self) -> list[int]:
        return [int(row["episode_index"]) for row in self.episodes]

    @functools.cached_property
    def tasks(self) -> dict[int, str]:
        """``meta/tasks.jsonl``: task index -> task string."""
        return {int(row["task_index"]): str(row["task"]) for row in read_jsonl(self.root / TASKS)}

    def _chunk(self, episode: int) -> int:
        return episode // int(self.info.get("chunks_size", 1000))

    def data_file(self, episode: int) -> Path:
        return self.root / self.info["data_path"].format(
            episode_chunk=self._chunk(episode), episode_index=episode
        )

    def video_file(self, episode: int, key: str) -> Path:
        return self.root / self.info["video_path"].format(
            episode_chunk=self._chunk(episode), video_key=key, episode_index=episode
        )

    def problems(self, stats_needed: bool = True) -> list[str]:
        """What stops a faithful conversion of this folder (empty: none), each in a few words.
        ``stats_needed``: the conversion takes v2.1's episode statistics (not recomputing them)."""
        missing_meta = [
            name for name in ("meta/info.json", EPISODES, TASKS) if not (self.root / name).is_file()
        ]
        if stats_needed and self.version == "v2.1" and not (self.root / EPISODES_STATS).is_file():
            missing_meta.append(f"{EPISODES_STATS} (--recompute-stats computes it)")
        if missing_meta:
            return [f"no {', no '.join(missing_meta)}"]
        try:
            indices = self.episode_indices
            self.tasks  # noqa: B018 - read now: a damaged tasks.jsonl is refused before converting
        except (ValueError, KeyError, TypeError) as exc:
            return [f"{EPISODES} or {TASKS} cannot be read ({type(exc).__name__}: {exc})"]
        found: list[str] = []
        if indices != list(range(len(indices))):
            gaps = sorted(set(range(max(indices, default=-1) + 1)) - set(indices))
            found.append(
                f"its episodes are not numbered 0..{len(indices) - 1} (missing {_first([str(g) for g in gaps])}); "
                "upstream's converter would renumber the episodes but not their frames"
            )
            return found
        expected = {self.data_file(e) for e in indices}
        present = set(self.root.glob("data/*/*.parquet"))
        if absent := sorted(str(p.relative_to(self.root)) for p in expected - present):
            found.append(
                f"{len(absent)} of its {len(expected)} episode data files are missing ({_first(absent)})"
            )
        if extra := sorted(str(p.relative_to(self.root)) for p in present - expected):
            found.append(f"data/ holds parquet files of no episode in {EPISODES} ({_first(extra)})")
        for key in self.video_keys:
            expected = {self.video_file(e, key) for e in indices}
            present = set(self.root.glob(f"videos/*/{key}/*.mp4"))
            if absent := sorted(str(p.relative_to(self.root)) for p in expected - present):
                found.append(
                    f"{len(absent)} of its {len(expected)} {key} videos are missing ({_first(absent)})"
                )
            if extra := sorted(str(p.relative_to(self.root)) for p in present - expected):
                found.append(f"videos/ holds {key} files of no episode in {EPISODES} ({_first(extra)})")
        return found
