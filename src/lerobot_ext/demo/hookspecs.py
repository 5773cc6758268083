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

    Called by the ``demo`` plugin each time ``lerobot-ext`` builds its commands, one
    implementation at a time in the one hook order.

    :param register: call ``register(name, write, help)``. ``write(root, ...)`` writes the dataset
        to ``root`` and returns it; it takes the options it names, from ``episodes``, ``frames``,
        ``image_size``, ``seed``, ``action_order``, ``depth``, ``overwrite`` and ``noise`` - each
        passed as given on the command line or its default; ``noise`` (a float) is passed only when
        given, so the writer's own default applies. An option given that ``write`` does not name
        is refused with one line (a ``**kwargs`` parameter receives nothing), and a parameter
        other than these must have a default. A name another plugin (or ``demo`` itself) registered
        is a ``PluginConflictError`` naming both plugins.
    """
