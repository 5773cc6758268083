"""Small, learnable demo datasets in realistic layouts, written with lerobot's own writer.

``write_demo_dataset("robocasa", root)`` - RoboCasa PandaOmron (53-D state, 12-D action, 3 cameras);
``"gr2"`` - Fourier GR2 (45-D state, 37-D action, named joints; ``depth=True`` adds a depth video); ``"bimodal"`` - two action modes
from one observation (for generative-policy checks). Command line: ``lerobot-ext demo-dataset``.
"""

from __future__ import annotations

from pathlib import Path

from lerobot_ext.errors import ConfigError

LAYOUTS = ("robocasa", "gr2", "bimodal")
ACTION_ORDERS = ("ee-first", "base-first")


def write_demo_dataset(
    layout: str,
    root: str | Path,
    episodes: int = 8,
    frames: int = 40,
    image_size: int = 64,
    seed: int = 0,
    action_order: str = "ee-first",
    overwrite: bool = False,
    depth: bool = False,
) -> Path:
    """Write the demo dataset ``layout`` to ``root`` and return ``root``."""
    if layout not in LAYOUTS:
        raise ConfigError(f"unknown demo layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    if action_order not in ACTION_ORDERS:
        raise ConfigError(f"unknown action order {action_order!r}; choose one of {', '.join(ACTION_ORDERS)}")
    if episodes < 1 or frames < 2 or image_size < 8:
        raise ConfigError(
            f"episodes={episodes}, frames={frames}, image_size={image_size}: need episodes >= 1, "
            "frames >= 2 and image_size >= 8"
        )
    if depth and layout != "gr2":
        raise ConfigError(f"--depth adds the GR2 head camera's depth video; the {layout} layout has none")
    root = Path(root)
    if layout == "robocasa":
        from lerobot_ext.demo import robocasa

        return robocasa.write(root, episodes, frames, image_size, seed, action_order, overwrite)
    if layout == "gr2":
        from lerobot_ext.demo import gr2

        return gr2.write(root, episodes, frames, image_size, seed, overwrite, depth)
    from lerobot_ext.demo import bimodal

    return bimodal.write(root, episodes, frames, seed, overwrite)


__all__ = ["ACTION_ORDERS", "LAYOUTS", "write_demo_dataset"]
