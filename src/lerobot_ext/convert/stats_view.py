"""A v2.x dataset seen as a v2.1 one whose episode statistics are computed from its data -
without writing to it.

v2.1 differs from v2.0 by one file: ``meta/episodes_stats.jsonl``, the statistics of each episode
(v2.0 has one ``meta/stats.json``), which upstream's converter aggregates into v3.0's
``meta/stats.json``. lerobot 0.6 has no v2.0 -> v2.1 converter (lerobot 0.3's computed the stats
from a dataset it loaded, possibly from the Hub), so this computes them with upstream's own
``compute_episode_stats``/``get_feature_stats``, as lerobot's v2.1 recorder did: every frame for
vectors, ``sample_indices`` frames (downsampled as upstream does) for cameras, decoded with
lerobot's decoder. The same view serves a v2.1 dataset whose statistics no longer match its data
(``--recompute-stats``: episodes edited after recording).

The view is a small folder: ``meta/`` with copies of ``info.json`` (version set to v2.1),
``episodes.jsonl`` and ``tasks.jsonl`` plus the new ``episodes_stats.jsonl``, and symbolic links
to the source's ``data/``, ``videos/`` (and ``images/``) - upstream's steps read through them,
so the source is read, never written, and nothing large is copied.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
from tqdm import tqdm

from lerobot_ext.convert.layout import SourceLayout, column_array

#: Timestamp tolerance when decoding the sampled frames (``LeRobotDataset``'s default).
TOLERANCE_S = 1e-4


def _camera_stats(frames: np.ndarray, depth: bool) -> dict[str, np.ndarray]:
    """``compute_episode_stats``'s image branch, on frames already decoded (N, C, H, W)."""
    from lerobot.datasets.compute_stats import auto_downsample_height_width, get_feature_stats

    sampled = np.stack([auto_downsample_height_width(frame) for frame in frames])
    stats = get_feature_stats(sampled, axis=(0, 2, 3), keepdims=True)
    scale = 1.0 if depth else 255.0
    return {k: v if k == "count" else np.squeeze(v / scale, axis=0) for k, v in stats.items()}


def _image_frames(cells: list[Any]) -> np.ndarray:
    """Images embedded in a v2.x parquet column (``{"bytes", "path"}``) as (N, C, H, W) uint8."""
    from PIL import Image

    frames = []
    for cell in cells:
        with Image.open(io.BytesIO(cell["bytes"])) as image:
            frames.append(np.asarray(image.convert("RGB")).transpose(2, 0, 1))
    return np.stack(frames)


def episode_stats(layout: SourceLayout, episode: int) -> dict[str, dict[str, list]]:
    """The v2.1 ``episodes_stats.jsonl`` entry of ``episode``: stats per feature, as lists."""
    from lerobot.datasets.compute_stats import compute_episode_stats, sample_indices
    from lerobot.datasets.video_utils import decode_video_frames

    table = pq.read_table(layout.data_file(episode))
    numeric = {
        key: column_array(table.column(key))
        for key, feature in layout.features.items()
        if feature["dtype"] not in ("video", "image", "string", "language") and key in table.column_names
    }
    stats = compute_episode_stats(numeric, {k: layout.features[k] for k in numeric})
    sampled = sample_indices(table.num_rows)
    timestamps = column_array(table.column("timestamp")).reshape(-1)
    for key in layout.camera_keys:
        depth = layout.is_depth(key)
        if layout.features[key]["dtype"] == "video":
            frames = decode_video_frames(
                layout.video_file(episode, key),
                [float(timestamps[i]) for i in sampled],
                TOLERANCE_S,
                backend="pyav",
                return_uint8=not depth,
                is_depth=depth,
            ).numpy()
        else:
            cells = table.column(key).to_pylist()
            frames = _image_frames([cells[i] for i in sampled])
        stats[key] = _camera_stats(frames, depth)
    return {key: {k: np.asarray(v).tolist() for k, v in s.items()} for key, s in stats.items()}


def v21_view(layout: SourceLayout, folder: Path) -> Path:
    """Write the v2.1 view of the v2.x dataset ``layout`` into ``folder`` (created); returns it."""
    meta = folder / "meta"
    meta.mkdir(parents=True)
    info = dict(layout.info, codebase_version="v2.1")
    (meta / "info.json").write_text(json.dumps(info, indent=4))
    for name in ("episodes.jsonl", "tasks.jsonl"):
        shutil.copyfile(layout.root / "meta" / name, meta / name)
    rows = []
    for episode in tqdm(layout.episode_indices, desc="statistics of each episode", unit="episode"):
        rows.append(json.dumps({"episode_index": episode, "stats": episode_stats(layout, episode)}))
    (meta / "episodes_stats.jsonl").write_text("".join(row + "\n" for row in rows))
    for name in ("data", "videos", "images"):
        if (layout.root / name).is_dir():
            (folder / name).symlink_to((layout.root / name).resolve(), target_is_directory=True)
    return folder
