"""Exception types a lerobot-ext user can meet, each with a message that says what to do."""

from __future__ import annotations


class LerobotExtError(Exception):
    """Base class for every error lerobot-ext raises on purpose."""


class PluginLoadError(LerobotExtError):
    """A plugin could not be imported or registered (fatal only in strict mode)."""


class PluginConflictError(LerobotExtError):
    """Two plugins (or a plugin and upstream lerobot) registered the same name."""


class PluginHookError(LerobotExtError):
    """A plugin's hook returned something the hook's contract does not allow."""


class ConfigError(LerobotExtError, ValueError):
    """A command-line or config value is invalid; the message names the value and the fix."""


class UnknownFlagError(ConfigError):
    """A `--flag` that neither lerobot-train nor lerobot-ext knows."""


class UpstreamChangedError(LerobotExtError, RuntimeError):
    """The installed lerobot no longer has a name lerobot-ext wraps (a seam moved)."""


class DatasetLayoutError(ConfigError):
    """A dataset does not have the state/action layout a transform or adapter needs."""


class TrainingStopped(Exception):
    """Not an error: a plugin asked the run to stop (``request_stop``); the run ends cleanly."""

    def __init__(self, reason: str, step: int, checkpoint: str | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.step = step
        self.checkpoint = checkpoint
