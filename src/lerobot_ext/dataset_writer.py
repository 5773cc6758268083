"""Write a LeRobot v3.0 dataset with lerobot's own writer, episode by episode, atomically."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
