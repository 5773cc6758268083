"""Which cameras ``--camera_keys`` keeps, and the dataset change that keeps only them."""

from __future__ import annotations

import copy

from lerobot_ext import DatasetChange, DatasetDescription, DatasetLayoutError
from lerobot_ext.cameras.steps import DropObservationsStep

CAMERA_PREFIX = "observation.images."
CAMERA_DTYPES = ("video", "image")


def cameras_of(dataset: DatasetDescription) -> list[str]:
    """The dataset's camera features, in the dataset's order."""
    return [key for key, ft in dataset.features.items() if ft.get("dtype") in CAMERA_DTYPES]


def short_name(key: str) -> str:
    return key[len(CAMERA_PREFIX) :] if key.startswith(CAMERA_PREFIX) else key


def resolve(requested: list[str], cameras: list[str]) -> list[str]:
    """The feature keys named by ``requested`` (short ``robot0_eye_in_hand`` or full names)."""
    by_name = {**{short_name(key): key for key in cameras}, **{key: key for key in cameras}}
    unknown = [name for name in requested if name not in by_name]
    if unknown:
        listing = ", ".join(short_name(key) for key in cameras) or "none"
        raise DatasetLayoutError(
            f"--camera_keys: unknown camera(s) {unknown}. This dataset's cameras: {listing} "
            f"(short names, or full names such as {cameras[0] if cameras else CAMERA_PREFIX + '<name>'})."
        )
    return list(dict.fromkeys(by_name[name] for name in requested))


def keep_cameras(dataset: DatasetDescription, requested: list[str]) -> tuple[DatasetChange, list[str]] | None:
    """The change that keeps the ``requested`` cameras, and the dropped keys; None if none drops."""
    cameras = cameras_of(dataset)
    kept = resolve(requested, cameras)
    dropped = [key for key in cameras if key not in kept]
    if not dropped:
        return None
    features = {k: copy.deepcopy(v) for k, v in dataset.features.items() if k not in dropped}
    stats = {k: v for k, v in dataset.stats.items() if k not in dropped}
    summary = (
        f"cameras {len(cameras)} -> {len(kept)}: keeping {', '.join(short_name(k) for k in kept)}; "
        f"dropping {', '.join(short_name(k) for k in dropped)} (not decoded in training, removed from "
        "the robot's observation at inference)"
    )
    change = DatasetChange(
        features=features,
        stats=stats,
        preprocessor_steps=[DropObservationsStep(keys=dropped)],
        summary=summary,
    )
    return change, dropped
