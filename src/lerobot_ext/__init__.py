"""lerobot-ext: upstream ``lerobot-train``, extended through seams and a pluggy plugin system."""

__version__ = "0.1.0"

from lerobot_ext.plugins import hookimpl

__all__ = ["__version__", "hookimpl"]
