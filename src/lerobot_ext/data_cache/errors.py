"""The data cache's own errors, each a ``ConfigError`` the CLIs turn into one line (exit 2)."""

from __future__ import annotations

from lerobot_ext import ConfigError


class DataCacheError(ConfigError):
    """A decoded-sample cache cannot be built or used as asked (no room, wrong folder, ...)."""


class StaleCacheError(DataCacheError):
    """A cache no longer matches its dataset (or the decoder and lerobot it was built with)."""


class DamagedCacheError(DataCacheError):
    """A cache's own files are unreadable, missing or not the size its manifest records."""


class CacheBusyError(DataCacheError):
    """Another process is building the same cache."""
