"""lerobot-ext's own log output: one stderr handler, quiet on non-main ranks."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from lerobot_ext.errors import LerobotExtError
from lerobot_ext.launch import launch_rank

LOGGER_NAME = "lerobot_ext"


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of the message (it may be replaced)."""

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        """Ignored: StreamHandler.__init__ (and setStream) assign a fixed stream, which would stop
        the handler from following a replaced ``sys.stderr`` (pytest's capsys, redirections)."""


def setup_console_logging(level: int = logging.INFO) -> logging.Logger:
    """Give the ``lerobot_ext`` logger a stderr handler of its own (idempotent).

    Upstream's ``init_logging`` clears the root logger's handlers when training starts, so our
    messages must not depend on them; ``propagate`` is off to avoid printing them twice. Other
    ranks only show warnings, matching upstream's "main process logs" behaviour.
    """
    logger = logging.getLogger(LOGGER_NAME)
    if not any(getattr(h, "_lerobot_ext", False) for h in logger.handlers):
        handler = _StderrHandler()
        handler._lerobot_ext = True  # type: ignore[attr-defined]
        handler.setFormatter(logging.Formatter("%(levelname)s lerobot-ext: %(message)s"))
        logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(level if launch_rank() == 0 else max(level, logging.WARNING))
    return logger


def get_logger(name: str | None = None) -> logging.Logger:
    return logging.getLogger(LOGGER_NAME if name is None else f"{LOGGER_NAME}.{name}")


def exit_code(command: Callable[[], object]) -> int:
    """Run a CLI body: its int result (0 for anything else), or 2 with one logged line for an
    error of ours.

    Our errors carry the fix in their message, so a traceback would only bury it.
    """
    try:
        result = command()
    except LerobotExtError as exc:
        get_logger("cli").error("%s", exc)
        return 2
    return result if isinstance(result, int) else 0
