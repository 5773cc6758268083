"""Check a converted v3.0 dataset against its v2.x source, and say what was checked.

- counts: episodes and frames, in the source's metadata, the target's and the data files of both;
- every numeric parquet column, episode by episode, value for value (NaN equal to NaN) and of the
  same dtype, plus the target's ``episode_index`` column against its episodes table;
- each episode's task strings (``episodes.jsonl`` against ``meta/episodes``), and every frame's task
  (``task_index`` through each side's task table);
- one frame per episode and camera - the last, where an offset error in the concatenated video
  would show first - decoded with lerobot's decoder (pyav) from both, **equal to the bit**:
  upstream remuxes the episodes' videos without re-encoding (``concatenate_video_files``), so the
  same packets must decode to the same pixels; both sides are looked up with ``LeRobotDataset``'s
  timestamp tolerance (1e-4 s), so a frame training could not find fails here too. Image (not
  video) cameras: the last frame's encoded bytes;
- ``meta/stats.json``: min, max, mean, std and count of every numeric feature recomputed from the
  target's data files (float64), equal to within ``STATS_RTOL`` of each value plus ``STATS_RTOL``
  of the feature's range per dim - the recorder summed float32 columns, which differs from
  float64 by about 1e-7 of the range. Quantiles (none in v2.1) are not recomputed. Camera
  statistics are v2.1's, sampled from frames at recording time; they are checked for shape (C,1,1)
  and order (0 <= min <= mean <= max <= 1 for RGB), not recomputed: that would decode every
  sampled frame of every episode again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from lerobot_ext.convert.layout import SourceLayout, column_array, is_numeric

#: ``LeRobotDataset``'s default timestamp tolerance: a frame is found within it or not at all.
TOLERANCE_S = 1e-4
STATS_RTOL = 1e-5
#: The meta files a v3.0 dataset needs locally (lerobot goes to the Hub for a missing one).
V3_META = ("meta/info.json", "meta/stats.json", "meta/tasks.parquet")
COMPARED_STATS = ("min", "max", "mean", "std")


@dataclass
class Verification:
    """What :func:`verify_conversion` compared, and every difference it found (``problems``)."""

    source: str
    target: str
    episodes: tuple[int, int] = (0, 0)  # source, target
    frames: tuple[int, int] = (0, 0)
    columns: list[str] = field(default_factory=list)
    tasks: int = 0
    decoded_frames: int = 0
    cameras: list[str] = field(default_factory=list)
    stats_features: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        """The report, a line per check."""
        episodes = self.episodes[0]
        return [
            f"verified {self.target} against {self.source}: {'OK' if self.ok else f'{len(self.problems)} problem(s)'}",
            f"  episodes  {self.episodes[0]} -> {self.episodes[1]}",
            f"  frames    {self.frames[0]} -> {self.frames[1]}",
            f"  columns   {len(self.columns)} numeric columns compared value for value in every episode "
            f"({', '.join(self.columns)})",
            f"  tasks     {self.tasks} task strings; each episode's and each frame's compared",
            f"  video     {self.decoded_frames} decoded frames (last of each of {episodes} episodes x "
            f"{len(self.cameras)} camera(s)) compared to the source's, bit for bit",
            f"  stats     {len(self.stats_features)} features' min/max/mean/std/count recomputed from the "
            f"data ({', '.join(self.stats_features)}); camera stats range-checked",
            *(f"  PROBLEM   {problem}" for problem in self.problems),
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "ok": self.ok,
            "episodes": {"source": self.episodes[0], "target": self.episodes[1]},
            "frames": {"source": self.frames[0], "target": self.frames[1]},
            "columns": self.columns,
            "tasks": self.tasks,
            "decoded_frames": self.decoded_frames,
            "cameras": self.cameras,
            "stats_features": self.stats_features,
            "problems": self.problems,
        }


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def _differs(a: np.ndarray, b: np.ndarray) -> str | None:
    """Why two columns of one episode differ, or ``None``."""
    if a.shape != b.shape:
        return f"shape {a.shape} -> {b.shape}"
    if a.dtype != b.dtype:
        return f"dtype {a.dtype} -> {b.dtype}"
    floating = np.issubdtype(a.dtype, np.floating)
    if np.array_equal(a, b, equal_nan=floating):
        return None
    same = (a == b) | (np.isnan(a) & np.isnan(b)) if floating else a == b
    rows = np.nonzero(~same.reshape(len(a), -1).all(axis=1))[0] if a.ndim else [0]
    return f"{len(rows)} frame(s) differ, first at frame {int(rows[0])}"


class _TargetFiles:
    """The target's data files, one open at a time (episodes come in file order)."""

    def __init__(self, root: Path, meta: Any) -> None:
        self.root, self.meta = root, meta
        self.path: Path | None = None
        self.table: pa.Table | None = None
        # A v3 file holds consecutive episodes: its first row is its first episode's first frame.
        self.starts: dict[Path, int] = {}
        for index in range(len(meta.episodes)):
            path = meta.get_data_file_path(index)
            start = int(meta.episodes[index]["dataset_from_index"])
            self.starts[path] = min(start, self.starts.get(path, start))

    def rows(self, episode: int) -> pa.Table:
        path = self.meta.get_data_file_path(episode)
        if path != self.path:
            self.path, self.table = path, pq.read_table(self.root / path)
        assert self.table is not None
        row = self.meta.episodes[episode]
        start, end = int(row["dataset_from_index"]), int(row["dataset_to_index"])
        return self.table.slice(start - self.starts[path], end - start)


def _decode(path: Path, timestamp: float, depth: bool) -> np.ndarray:
    from lerobot.datasets.video_utils import decode_video_frames

    return decode_video_frames(
        path, [timestamp], TOLERANCE_S, backend="pyav", return_uint8=not depth, is_depth=depth
    ).numpy()


def _check_frames(
    layout: SourceLayout, target: Path, meta: Any, episode: int, source: pa.Table, dest: pa.Table
) -> tuple[int, list[str]]:
    decoded, problems = 0, []
    if source.num_rows == 0:
        return 0, []
    last = source.num_rows - 1
    for key in layout.camera_keys:
        where = f"episode {episode}, {key}"
        if layout.features[key]["dtype"] == "image":
            if key not in dest.column_names or source.column(key)[last] != dest.column(key)[last]:
                problems.append(f"{where}: the last frame's image differs from the source's")
            decoded += 1
            continue
        timestamp = float(column_array(source.column("timestamp"))[last])
        depth = layout.is_depth(key)
        row = meta.episodes[episode]
        try:
            expected = _decode(layout.video_file(episode, key), timestamp, depth)
        except (OSError, ValueError, RuntimeError) as exc:
            problems.append(
                f"{where}: the source's frame at {timestamp:.4f} s cannot be decoded ({_first_line(exc)})"
            )
            continue
        shifted = float(row[f"videos/{key}/from_timestamp"]) + timestamp
        try:
            found = _decode(target / meta.get_video_file_path(episode, key), shifted, depth)
        except (OSError, ValueError, RuntimeError) as exc:
            problems.append(
                f"{where}: the converted frame at {shifted:.4f} s cannot be decoded ({_first_line(exc)})"
            )
            continue
        decoded += 1
        if found.shape != expected.shape or not np.array_equal(found, expected):
            problems.append(
                f"{where}: the last frame ({shifted:.4f} s in {meta.get_video_file_path(episode, key)}) "
                "differs from the source's"
            )
    return decoded, problems


def _task_strings(indices: np.ndarray, table: dict[int, str]) -> list[str]:
    return [table.get(int(i), f"<task_index {int(i)} not in the task table>") for i in np.unique(indices)]


def _check_episode(
    layout: SourceLayout,
    meta: Any,
    episode: int,
    source: pa.Table,
    dest: pa.Table,
    columns: list[str],
    target_tasks: dict[int, str],
) -> list[str]:
    problems = []
    where = f"episode {episode}"
    length = int(layout.episodes[episode]["length"])
    if not source.num_rows == dest.num_rows == length:
        problems.append(
            f"{where}: {source.num_rows} frames in the source's data file, {length} in episodes.jsonl, "
            f"{dest.num_rows} in the converted data"
        )
        return problems
    for name in columns:
        if name not in dest.column_names:
            problems.append(f"{where}: column {name} is missing from the converted data")
            continue
        why = _differs(column_array(source.column(name)), column_array(dest.column(name)))
        if why is not None:
            problems.append(f"{where}: column {name} differs ({why})")
    if "episode_index" in dest.column_names and length:
        numbered = set(column_array(dest.column("episode_index")).reshape(-1).tolist())
        if numbered != {episode}:
            problems.append(f"{where}: its converted frames say episode_index {sorted(numbered)}")
    wanted = [str(t) for t in layout.episodes[episode].get("tasks", [])]
    listed = [str(t) for t in (meta.episodes[episode].get("tasks") or [])]
    if wanted != listed:
        problems.append(f"{where}: tasks {listed} in meta/episodes, {wanted} in the source")
    if "task_index" in source.column_names and "task_index" in dest.column_names and length:
        before = _task_strings(column_array(source.column("task_index")), layout.tasks)
        after = _task_strings(column_array(dest.column("task_index")), target_tasks)
        if sorted(before) != sorted(after):
            problems.append(f"{where}: its frames' tasks are {after}, the source's {before}")
    return problems


def _stats_problems(name: str, values: np.ndarray, stored: dict[str, Any]) -> list[str]:
    values = values.astype(np.float64).reshape(len(values), -1)
    recomputed = {
        "min": values.min(axis=0),
        "max": values.max(axis=0),
        "mean": values.mean(axis=0),
        "std": values.std(axis=0),
    }
    problems = []
    count = int(np.asarray(stored.get("count", [-1])).reshape(-1)[0])
    if count != len(values):
        problems.append(f"meta/stats.json: {name} count {count}, the data has {len(values)} frames")
    span = recomputed["max"] - recomputed["min"]
    for stat in COMPARED_STATS:
        if stat not in stored:
            problems.append(f"meta/stats.json: {name} has no {stat}")
            continue
        have = np.asarray(stored[stat], dtype=np.float64).reshape(-1)
        want = recomputed[stat]
        if have.shape != want.shape:
            problems.append(
                f"meta/stats.json: {name} {stat} has {have.size} values, the data {want.size} dims"
            )
            continue
        off = np.abs(have - want) > STATS_RTOL * (np.abs(want) + span) + 1e-12
        if off.any():
            dim = int(np.argmax(off))
            problems.append(
                f"meta/stats.json: {name} {stat} is {have[dim]:.6g} at dim {dim}, the data gives {want[dim]:.6g} "
                "(the source's episode statistics do not match its data: --recompute-stats computes them from it)"
            )
    return problems


def _camera_stats_problems(key: str, stored: dict[str, Any] | None, depth: bool) -> list[str]:
    if stored is None:
        return [f"meta/stats.json has no statistics for {key}"]
    try:
        low, mean, high = (np.asarray(stored[s], dtype=np.float64) for s in ("min", "mean", "max"))
    except KeyError as exc:
        return [f"meta/stats.json: {key} has no {exc.args[0]}"]
    if low.ndim != 3 or low.shape[1:] != (1, 1):
        return [f"meta/stats.json: {key} stats have shape {low.shape}, not (channels, 1, 1)"]
    ordered = np.all(low <= mean + 1e-9) and np.all(mean <= high + 1e-9)
    in_range = depth or (low.min() >= -1e-9 and high.max() <= 1 + 1e-9)
    return (
        [] if ordered and in_range else [f"meta/stats.json: {key} stats are out of order or outside [0, 1]"]
    )


def _load_target(target: Path) -> tuple[Any, list[str]]:
    missing = [name for name in V3_META if not (target / name).is_file()]
    if not any((target / "meta" / "episodes").glob("*/*.parquet")):
        missing.append("meta/episodes/")
    if missing:
        return None, [f"{target} has no {', no '.join(missing)}"]
    from lerobot.datasets.lerobot_dataset import LeRobotDatasetMetadata

    try:
        return LeRobotDatasetMetadata(f"local/{target.name}", root=target), []
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return None, [f"{target}'s metadata does not load in lerobot ({_first_line(exc)})"]


def verify_conversion(source: str | Path, target: str | Path, show_progress: bool = True) -> Verification:
    """Compare the v3.0 dataset ``target`` with the v2.0/v2.1 dataset ``source`` it was converted
    from (see the module's docstring for what is compared). Reads both, writes neither."""
    layout = SourceLayout(Path(source))
    target = Path(target)
    result = Verification(str(layout.root), str(target))
    meta, result.problems = _load_target(target)
    if meta is None:
        return result
    lengths = [int(row["length"]) for row in layout.episodes]
    result.episodes = (len(lengths), int(meta.total_episodes))
    result.frames = (sum(lengths), int(meta.total_frames))
    result.cameras = layout.camera_keys
    result.tasks = len(layout.tasks)
    if result.episodes[0] != result.episodes[1] or len(meta.episodes) != result.episodes[0]:
        result.problems.append(
            f"{result.episodes[0]} episodes in the source, {result.episodes[1]} in meta/info.json and "
            f"{len(meta.episodes)} in meta/episodes of the converted dataset"
        )
        return result
    if result.frames[0] != result.frames[1]:
        result.problems.append(
            f"{result.frames[0]} frames in the source, {result.frames[1]} in the converted dataset"
        )
    target_tasks = {int(row.task_index): str(task) for task, row in meta.tasks.iterrows()}
    if sorted(target_tasks.values()) != sorted(layout.tasks.values()):
        result.problems.append(
            f"task strings differ: {sorted(layout.tasks.values())} in the source, "
            f"{sorted(target_tasks.values())} converted"
        )
    files = _TargetFiles(target, meta)
    collected: dict[str, list[np.ndarray]] = {}
    stats_keys = [
        key
        for key, feature in meta.features.items()
        if feature["dtype"] not in ("video", "image", "string", "language")
    ]
    episodes: Iterable[int] = range(len(lengths))
    if show_progress:
        episodes = tqdm(episodes, desc="verify", unit="episode")
    for episode in episodes:
        try:
            source_rows = pq.read_table(layout.data_file(episode))
            dest_rows = files.rows(episode)
        except (OSError, ValueError, KeyError) as exc:  # a damaged or missing parquet file
            result.problems.append(f"episode {episode}: its data cannot be read ({_first_line(exc)})")
            continue
        numeric = [f.name for f in source_rows.schema if is_numeric(f.type)]
        if not result.columns:
            result.columns = numeric
        result.problems += _check_episode(
            layout, meta, episode, source_rows, dest_rows, numeric, target_tasks
        )
        decoded, problems = _check_frames(layout, target, meta, episode, source_rows, dest_rows)
        result.decoded_frames += decoded
        result.problems += problems
        for key in stats_keys:
            if key in dest_rows.column_names:
                collected.setdefault(key, []).append(column_array(dest_rows.column(key)))
    for key in stats_keys:
        if key not in collected:
            continue
        if key not in meta.stats:
            result.problems.append(f"meta/stats.json has no statistics for {key}")
            continue
        result.stats_features.append(key)
        result.problems += _stats_problems(key, np.concatenate(collected[key]), meta.stats[key])
    for key in layout.camera_keys:
        result.problems += _camera_stats_problems(key, meta.stats.get(key), layout.is_depth(key))
    return result
