"""The hook the ``demo`` plugin adds (through ``register_hookspecs``): more demo layouts.

Implement it with ``@hookimpl(optionalhook=True)``: the hook exists only while the demo plugin is
loaded.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

hookspec = pluggy.HookspecMarker("lerobot_ext")


@hookspec
def register_demo_layouts(register: Callable[..., None]) -> None:
    """Add layouts to ``lerobot-ext demo-dataset --layout``.

    :param register: call ``register(name, write, help)``; ``write(root, episodes=, frames=,
        image_size=, seed=, overwrite=)`` writes the dataset to ``root`` and returns it (take the
        keyword arguments you need and ``**_`` for the rest). A name already taken is an error.
    """
