"""A tiny LeRobot v2.1 (or v2.0) dataset, written offline for the conversion tests.

lerobot 0.6.x only writes v3.0, so this writes the older layout itself, following what
LeRobot's v2.x writer left on disk (lerobot <= 0.3):

    meta/info.json              codebase_version "v2.1", total_chunks/total_videos, the v2 path templates
    meta/episodes.jsonl         {"episode_index", "tasks", "length"} per episode
    meta/tasks.jsonl            {"task_index", "task"} per task
    meta/episodes_stats.jsonl   {"episode_index", "stats": {feature: {min, max, mean, std, count}}}
                                (v2.1; a v2.0 dataset has one meta/stats.json instead)
    data/chunk-000/episode_000000.parquet
    videos/chunk-000/<video_key>/episode_000000.mp4   (AV1, yuv420p, a keyframe every 2 frames)

Upstream's v2.1 -> v3.0 converter reads exactly this; the tests check that its output loads in
``LeRobotDataset`` and decodes, which is what proves the layout right.
"""

from __future__ import annotations

import json
import os
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

CAMERA = "observation.images.front"
TASKS = ("pick the red cube", "push the blue cube to the left")
DATA_PATH = "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"
VIDEO_PATH = "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"
STATE_NAMES = [f"joint_{i}" for i in range(6)]


def _vector(names: list[str]) -> dict[str, Any]:
    return {"dtype": "float32", "shape": [len(names)], "names": names}


def _scalar(dtype: str) -> dict[str, Any]:
    return {"dtype": dtype, "shape": [1], "names": None}


def features(image_size: int, fps: int) -> dict[str, Any]:
    return {
        CAMERA: {
            "dtype": "video",
            "shape": [image_size, image_size, 3],
            "names": ["height", "width", "channels"],
            "info": {
                "video.fps": float(fps),
                "video.height": image_size,
                "video.width": image_size,
                "video.channels": 3,
                "video.codec": "av1",
                "video.pix_fmt": "yuv420p",
                "video.is_depth_map": False,
                "has_audio": False,
            },
        },
        "observation.state": _vector(STATE_NAMES),
        "action": _vector(STATE_NAMES),
        "timestamp": _scalar("float32"),
        "frame_index": _scalar("int64"),
        "episode_index": _scalar("int64"),
        "index": _scalar("int64"),
        "task_index": _scalar("int64"),
    }


def _stats(values: np.ndarray) -> dict[str, list]:
    """v2.x per-feature stats: over frames, per dim (vectors) or per channel (images, as (C,1,1))."""
    values = values.astype(np.float64)
    if values.ndim == 4:  # frames, H, W, C -> per channel, in [0, 1]
        flat = values.reshape(-1, values.shape[-1]) / 255.0
        reduce = {
            "min": flat.min(0),
            "max": flat.max(0),
            "mean": flat.mean(0),
            "std": flat.std(0),
        }
        out = {k: v.reshape(-1, 1, 1).tolist() for k, v in reduce.items()}
    else:
        values = values.reshape(len(values), -1)
        out = {
            "min": values.min(0).tolist(),
            "max": values.max(0).tolist(),
            "mean": values.mean(0).tolist(),
            "std": values.std(0).tolist(),
        }
    out["count"] = [len(values)]
    return out


def _frames(episode: int, length: int, size: int) -> np.ndarray:
    """Smooth, distinct images (a moving gradient per episode) that survive AV1 well."""
    y, x = np.mgrid[0:size, 0:size]
    images = np.empty((length, size, size, 3), dtype=np.uint8)
    for t in range(length):
        images[t, ..., 0] = (x * 255 // size + 8 * t) % 256
        images[t, ..., 1] = (y * 255 // size + 40 * episode) % 256
        images[t, ..., 2] = (100 + 10 * t + 30 * episode) % 256
    return images


def _write_video(path: Path, images: np.ndarray, fps: int) -> None:
    # SVT-AV1 prints ~25 lines of its settings per file to stderr unless told not to.
    os.environ.setdefault("SVT_LOG", "1")
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libsvtav1", rate=fps, options={"g": "2", "crf": "30"})
        stream.pix_fmt = "yuv420p"
        stream.width, stream.height = images.shape[2], images.shape[1]
        stream.time_base = Fraction(1, fps)
        for t, image in enumerate(images):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = t
            frame.time_base = Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def write_v21_dataset(
    root: Path,
    lengths: tuple[int, ...] = (10, 12, 9),
    fps: int = 10,
    image_size: int = 32,
    version: str = "v2.1",
    seed: int = 0,
) -> Path:
    """Write a dataset of ``len(lengths)`` episodes (episode i does ``TASKS[i % 2]``) to ``root``."""
    if version not in ("v2.0", "v2.1"):
        raise ValueError(f"version {version!r}: this writes v2.0 or v2.1")
    rng = np.random.default_rng(seed)
    feats = features(image_size, fps)
    (root / "meta").mkdir(parents=True, exist_ok=True)
    episodes, episode_stats, columns_all = [], [], []
    index = 0
    for episode, length in enumerate(lengths):
        task = episode % len(TASKS)
        state = rng.normal(size=(length, 6)).astype(np.float32)
        action = rng.normal(size=(length, 6)).astype(np.float32)
        columns = {
            "observation.state": state,
            "action": action,
            "timestamp": (np.arange(length) / fps).astype(np.float32),
            "frame_index": np.arange(length, dtype=np.int64),
            "episode_index": np.full(length, episode, dtype=np.int64),
            "index": np.arange(index, index + length, dtype=np.int64),
            "task_index": np.full(length, task, dtype=np.int64),
        }
        index += length
        # v2.x parquet: fixed-size float32 lists for vectors (what HF datasets' Sequence(length=N) wrote).
        table = pa.table(
            {
                name: pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), values.shape[1])
                if values.ndim == 2
                else pa.array(values)
                for name, values in columns.items()
            }
        )
        data_path = root / DATA_PATH.format(episode_chunk=0, episode_index=episode)
        data_path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, data_path)
        images = _frames(episode, length, image_size)
        _write_video(
            root / VIDEO_PATH.format(episode_chunk=0, video_key=CAMERA, episode_index=episode), images, fps
        )
        episodes.append({"episode_index": episode, "tasks": [TASKS[task]], "length": length})
        stats = {name: _stats(values) for name, values in columns.items()}
        stats[CAMERA] = _stats(images)
        episode_stats.append({"episode_index": episode, "stats": stats})
        columns_all.append({**columns, CAMERA: images})

    _write_jsonl(root / "meta" / "episodes.jsonl", episodes)
    _write_jsonl(root / "meta" / "tasks.jsonl", [{"task_index": i, "task": t} for i, t in enumerate(TASKS)])
    if version == "v2.1":
        _write_jsonl(root / "meta" / "episodes_stats.jsonl", episode_stats)
    else:  # v2.0: one stats.json over the whole dataset
        whole = {name: np.concatenate([c[name] for c in columns_all]) for name in columns_all[0]}
        (root / "meta" / "stats.json").write_text(json.dumps({n: _stats(v) for n, v in whole.items()}))
    info = {
        "codebase_version": version,
        "robot_type": "so100",
        "total_episodes": len(lengths),
        "total_frames": index,
        "total_tasks": len(TASKS),
        "total_videos": len(lengths),
        "total_chunks": 1,
        "chunks_size": 1000,
        "fps": fps,
        "splits": {"train": f"0:{len(lengths)}"},
        "data_path": DATA_PATH,
        "video_path": VIDEO_PATH,
        "features": feats,
    }
    (root / "meta" / "info.json").write_text(json.dumps(info, indent=4))
    return root
