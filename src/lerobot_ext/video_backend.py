"""Keep torchcodec's loader failure to one line.

Without system FFmpeg libraries, ``import torchcodec`` fails and lerobot logs the whole
loader traceback (about 100 lines, once per attempt) before falling back to pyav. We probe
once, quietly; if torchcodec cannot load we drop lerobot's warning and say so in one line.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import logging

from lerobot_ext.console import get_logger

_UPSTREAM_LOGGER = "lerobot.utils.import_utils"
MARKER = "'torchcodec' is installed but cannot be loaded"


@functools.cache
def torchcodec_loadable() -> bool:
    if importlib.util.find_spec("torchcodec") is None:
        return False
    try:
        importlib.import_module("torchcodec")
    except (ImportError, OSError, RuntimeError):
        return False
    return True


class _DropTorchcodecFallbackWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return MARKER not in record.getMessage()


def quiet_torchcodec_fallback() -> str | None:
    """Install the filter when torchcodec cannot load; returns the one-line notice (printed once)."""
    if importlib.util.find_spec("torchcodec") is None or torchcodec_loadable():
        return None
    upstream = logging.getLogger(_UPSTREAM_LOGGER)
    if not any(isinstance(f, _DropTorchcodecFallbackWarning) for f in upstream.filters):
        upstream.addFilter(_DropTorchcodecFallbackWarning())
        notice = (
            "torchcodec is installed but cannot load (no system FFmpeg libraries); decoding video "
            "with pyav. Install FFmpeg to use torchcodec, or pass --dataset.video_backend=pyav."
        )
        get_logger().info(notice)
        return notice
    return None
