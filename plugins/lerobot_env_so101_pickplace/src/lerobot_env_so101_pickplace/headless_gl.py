"""Offscreen rendering on a machine without a display: MuJoCo's EGL backend.

MuJoCo picks its OpenGL backend once, when ``mujoco`` is first imported, from ``MUJOCO_GL``; its
default (GLFW) needs a display, so ``--env.render=true`` on a headless Linux box fails with a
``mujoco.FatalError`` deep in ``lerobot-eval``. Importing this package before ``mujoco`` (as
``lerobot-eval-ext`` and ``lerobot-train-ext`` do) chooses EGL there. Where ``mujoco`` was
imported first (stock ``lerobot-eval`` imports ``lerobot_env_so101`` before this package), the
first frame fails with one line that names the fix instead.
"""

from __future__ import annotations

import os
import sys

#: What the user can set before the process starts when the default cannot be chosen for them.
FIX = (
    "run with MUJOCO_GL=egl (GPU or Mesa EGL; apt install libegl1) or MUJOCO_GL=osmesa "
    "(software; apt install libosmesa6) set before the command, or on a machine with a display"
)


def headless() -> bool:
    """A Linux process with no X11 or Wayland display to open a GLFW window on."""
    return sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )


def default_to_egl() -> bool:
    """Set ``MUJOCO_GL=egl`` if nobody chose a backend, there is no display and MuJoCo has not
    been imported yet (afterwards the variable would change nothing). True if it was set."""
    if "MUJOCO_GL" in os.environ or "mujoco" in sys.modules or not headless():
        return False
    os.environ["MUJOCO_GL"] = "egl"
    return True


def unavailable_message(error: BaseException) -> str:
    backend = os.environ.get("MUJOCO_GL") or "glfw (the default)"
    first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return (
        f"--env.render=true: MuJoCo could not render a frame with MUJOCO_GL={backend} "
        f"({type(error).__name__}: {first_line}); {FIX} - or leave --env.render=false"
    )
