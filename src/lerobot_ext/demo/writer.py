"""Write a LeRobot v3.0 dataset with lerobot's own writer, episode by episode."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from lerobot_ext.errors import ConfigError

Frame = dict[str, Any]


@contextlib.contextmanager
def _quiet_encoders() -> Iterator[None]:
    # SVT-AV1 prints its whole configuration to stderr for every video it encodes, and FFmpeg's
    # mp4 muxer a line per file; neither says anything a user can act on.
    import av

    previous = os.environ.get("SVT_LOG")
    os.environ["SVT_LOG"] = "1"  # errors only
    av.logging.set_level(av.logging.ERROR)
    try:
        yield
    finally:
        av.logging.set_level(None)
        if previous is None:
            os.environ.pop("SVT_LOG", None)
        else:
            os.environ["SVT_LOG"] = previous


def write_dataset(
    root: Path,
    repo_id: str,
    fps: int,
    robot_type: str,
    features: dict[str, dict[str, Any]],
    episodes: Iterator[list[Frame]],
    task: str,
    modality: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Create ``root`` from the frames of each episode; returns ``root``.

    Refuses to touch an existing directory unless ``overwrite``; writes into ``<root>.partial``
    and renames at the end, so an interrupted run never leaves a half-written dataset.
    """
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    root = Path(root)
    if root.exists():
        if not overwrite:
            raise ConfigError(f"{root} already exists; pick another --root or pass --overwrite")
        shutil.rmtree(root)
    partial = root.with_name(root.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    with _quiet_encoders():
        dataset = LeRobotDataset.create(
            repo_id=repo_id,
            fps=fps,
            features=features,
            root=partial,
            robot_type=robot_type,
            use_videos=True,
            video_backend="pyav",
        )
        for frames in episodes:
            for frame in frames:
                dataset.add_frame({**frame, "task": task})
            dataset.save_episode(parallel_encoding=False)
        dataset.finalize()
    if modality is not None:
        with open(partial / "meta" / "modality.json", "w") as f:
            json.dump(modality, f, indent=2)
    shutil.rmtree(partial / "images", ignore_errors=True)  # temporary frames of encoded videos
    partial.rename(root)
    return root


def video_feature(height: int, width: int) -> dict[str, Any]:
    return {"dtype": "video", "shape": (height, width, 3), "names": ["height", "width", "channels"]}


def vector_feature(names: list[str] | dict[str, list[str]] | None, width: int) -> dict[str, Any]:
    return {"dtype": "float32", "shape": (width,), "names": names}


def draw_square(image: np.ndarray, u: float, v: float, color: tuple[int, int, int], half: int = 2) -> None:
    """Paint a square centred at normalised coordinates (u, v) in [-1, 1]."""
    height, width = image.shape[:2]
    row = round((v + 1) / 2 * (height - 1))
    col = round((u + 1) / 2 * (width - 1))
    image[max(0, row - half) : row + half + 1, max(0, col - half) : col + half + 1] = color


def background(height: int, width: int, tint: tuple[int, int, int]) -> np.ndarray:
    rows = np.linspace(0, 60, height, dtype=np.float32)[:, None, None]
    image = np.broadcast_to(np.asarray(tint, dtype=np.float32) + rows, (height, width, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


EpisodeFn = Callable[[np.random.Generator, int], list[Frame]]
