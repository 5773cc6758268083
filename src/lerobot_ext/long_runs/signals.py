"""SIGTERM and SIGUSR1 stop the run cleanly: the current step finishes, a checkpoint of it is
written, and the process exits 0.

A cloud scheduler or ``docker stop`` sends SIGTERM some seconds before SIGKILL; SLURM can send
SIGUSR1 before a time limit (``#SBATCH --signal=USR1@120``). Many of them signal the whole
process group, DataLoader workers included - and a worker killed by it ends the run with
"DataLoader worker ... killed by signal" and no checkpoint. So the main process decides alone:

* while installed, the main thread *blocks* the stop signals. Every process it starts from then
  on - DataLoader workers (spawn, forkserver or fork, at the first batch, at every epoch with
  ``--persistent_workers=false``, for the held-out loader), simulator workers - inherits the
  blocked mask and never acts on them: those processes end when the main process ends them.
* a stop signal sent to the process either stays pending (the main thread picks it up with
  :meth:`StopOnSignal.poll` once per step) or reaches another thread of the process, whose
  Python handler runs in the main thread and records it the same way.

The stop is only recorded: the step in flight, and a checkpoint being written, always finish. A
second signal while stopping is reported and otherwise ignored, so it cannot cut the checkpoint
short.

The blocked mask has one cost: ``Process.terminate()`` (SIGTERM) cannot end those children.
multiprocessing ends the daemonic children still running at exit - DataLoader workers of an
iterator nobody closed, which is how ``lerobot-train`` leaves its training loader - with
``terminate()`` and then joins them, which would wait forever. So :meth:`StopOnSignal.install`
also registers :func:`end_children_that_block_stop_signals`, which runs before multiprocessing's
exit function and ends those children with SIGKILL - what ``terminate()`` was meant to do.
"""

from __future__ import annotations

import atexit
import multiprocessing
import multiprocessing.resource_tracker
import signal
import threading
import time
from pathlib import Path
from typing import Any

from lerobot_ext import get_logger

log = get_logger("long_runs")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)

# How long a daemonic child whose mask cannot be read gets to end on SIGTERM at exit.
TERMINATE_GRACE_S = 2.0

_exit_handler_registered = False


def blocks_sigterm(pid: int) -> bool | None:
    """Whether process ``pid`` blocks SIGTERM (from /proc on Linux); None where it cannot be read."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("SigBlk:"):
                return bool(int(line.split()[1], 16) >> (signal.SIGTERM - 1) & 1)
    except (OSError, ValueError):
        return None
    return None


def end_children_that_block_stop_signals() -> None:
    """Ends, with SIGKILL, the daemonic children that ``terminate()`` cannot end.

    multiprocessing ends its daemonic children at exit with ``terminate()`` and joins them; a
    child that inherited the blocked stop signals would keep that join waiting forever (the run
    hangs after its last step). Children that do not block SIGTERM are left to multiprocessing;
    where the mask cannot be read (not Linux), a child gets TERMINATE_GRACE_S to end on SIGTERM.
    """
    # torch's SIGCHLD handler reports a DataLoader worker ended by a signal as an error while its
    # iterator lives (any thread may take the signal, so blocking it here is not enough): the
    # default action stands in while these children end, and a reaped worker is not reported.
    if threading.current_thread() is not threading.main_thread():
        _end_daemonic_children()
        return
    previous = signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    try:
        _end_daemonic_children()
    finally:
        if previous is not None:  # None: a handler set outside Python, which cannot be restored
            signal.signal(signal.SIGCHLD, previous)


def _end_daemonic_children() -> None:
    killed, unknown = [], []
    for child in multiprocessing.active_children():
        if not child.daemon:
            continue  # multiprocessing joins those without ending them: they end on their own
        blocked = blocks_sigterm(child.pid)
        if blocked:
            child.kill()
            killed.append(child)
        elif blocked is None:
            child.terminate()
            unknown.append(child)
    deadline = time.monotonic() + TERMINATE_GRACE_S
    for child in unknown:
        child.join(max(0.0, deadline - time.monotonic()))
        if child.is_alive():
            child.kill()
            killed.append(child)
    for child in killed:
        child.join()


class StopOnSignal:
    """Records SIGTERM/SIGUSR1 while installed; ``reason`` is set once one arrived."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self._previous: dict[int, Any] = {}
        self._blocked: set[int] = set()

    @property
    def installed(self) -> bool:
        return bool(self._previous)

    def install(self) -> None:
        # Signal handlers and the main thread's mask can only be set from the main thread (an
        # in-process caller on another thread keeps the defaults).
        if self.installed or threading.current_thread() is not threading.main_thread():
            return
        self.reason = None
        # multiprocessing's resource tracker, started by the first spawned process, *unblocks*
        # SIGTERM in the thread that starts it; start it now, before the mask is set, so the
        # DataLoader workers that follow still inherit the blocked mask.
        multiprocessing.resource_tracker.ensure_running()
        _register_exit_handler()
        for sig in STOP_SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)
        already = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        self._blocked = set(STOP_SIGNALS) - set(already)  # unblocked again by uninstall only

    def poll(self) -> str | None:
        """Take the stop signals pending on the main thread; ``reason`` once one arrived."""
        if self.installed and threading.current_thread() is threading.main_thread():
            for sig in sorted(signal.sigpending() & set(STOP_SIGNALS)):
                if signal.sigtimedwait([sig], 0) is not None:
                    self._handle(sig, None)
        return self.reason

    def uninstall(self) -> None:
        if not self.installed:
            return
        self.poll()  # a signal that came while stopping is reported, not left to the old handler
        if self._blocked:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, self._blocked)
        self._blocked = set()
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


def _register_exit_handler() -> None:
    # atexit runs the newest registration first: this one, registered after multiprocessing's
    # own exit function (registered when multiprocessing.util was imported, above), runs before it.
    global _exit_handler_registered
    if not _exit_handler_registered:
        atexit.register(end_children_that_block_stop_signals)
        _exit_handler_registered = True
