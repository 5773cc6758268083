"""Drawing the demo datasets' camera frames: a tinted background and coloured squares."""

from __future__ import annotations

from typing import Any

import numpy as np

#: One frame of an episode: feature key -> value.
Frame = dict[str, Any]


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
