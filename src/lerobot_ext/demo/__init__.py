"""Small, learnable demo datasets in realistic layouts, written with lerobot's own writer.

``write_demo_dataset("robocasa", root)`` - RoboCasa PandaOmron (53-D state, 12-D action, 3 cameras);
``"gr2"`` - Fourier GR2 (45-D state, 37-D action, named joints; ``depth=True`` adds a depth video); ``"bimodal"`` - two action modes
from one observation (for generative-policy checks). Command line: ``lerobot-ext demo-dataset``,
to which other plugins add layouts through the ``register_demo_layouts`` hook.
"""

from __future__ import annotations

from pathlib import Path

from lerobot_ext import ConfigError
from lerobot_ext.demo.layouts import ACTION_ORDERS, BUILT_IN_LAYOUTS, built_in_layouts

LAYOUTS = BUILT_IN_LAYOUTS


def write_demo_dataset(
    layout: str,
    root: str | Path,
    episodes: int | None = None,
    frames: int | None = None,
    image_size: int | None = None,
    seed: int | None = None,
    action_order: str | None = None,
    overwrite: bool | None = None,
    depth: bool | None = None,
) -> Path:
    """Write the demo dataset ``layout`` to ``root`` and return ``root``.

    Each layout takes the options its writer names (``bimodal`` has no camera, so no
    ``image_size``; ``depth`` is the GR2 layout's alone); an option given to a layout that does
    not take it is a ``ConfigError``, as on the command line - never ignored. Options left out
    (``None``, or ``False`` for ``overwrite`` and ``depth``) get the command line's defaults.
    """
    if layout not in LAYOUTS:
        raise ConfigError(f"unknown demo layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    options = {
        "episodes": episodes,
        "frames": frames,
        "image_size": image_size,
        "seed": seed,
        "action_order": action_order,
        "overwrite": overwrite,
        "depth": depth,
    }
    return built_in_layouts()[layout].write_dataset(root, options)


__all__ = ["ACTION_ORDERS", "LAYOUTS", "write_demo_dataset"]
