"""SIGTERM and SIGUSR1 stop the run cleanly: the current step finishes, a checkpoint of it is
written, and the process exits 0.

A cloud scheduler or ``docker stop`` sends SIGTERM some seconds before SIGKILL; SLURM can send
SIGUSR1 before a time limit (``#SBATCH --signal=USR1@120``). The handler only records the
signal: the step in flight, and a checkpoint being written, always finish. A second signal while
stopping is reported and otherwise ignored, so it cannot interrupt the checkpoint.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

from lerobot_ext.console import get_logger

log = get_logger("long_runs")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


class StopOnSignal:
    """Records SIGTERM/SIGUSR1 while installed; ``reason`` is set once one arrived."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        # Signal handlers can only be set from the main thread (an in-process caller on
        # another thread keeps the defaults).
        if threading.current_thread() is not threading.main_thread():
            return
        self.reason = None
        for sig in STOP_SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)

    def uninstall(self) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
        self._previous.clear()

    def _handle(self, signum: int, _frame: Any) -> None:
        name = signal.Signals(signum).name
        if self.reason is None:
            self.reason = name
            log.warning("%s received: finishing this step, saving a checkpoint of it, then stopping", name)
        else:
            log.warning(
                "%s received again: already stopping - the checkpoint is being written, not interrupted", name
            )
