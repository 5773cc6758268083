"""One build of a cache at a time, and the leftovers of builds that died.

A build holds an exclusive ``flock`` on ``<cache>.lock`` (released by the kernel if the process
dies) and writes into ``<cache>.partial-<host>-<pid>``. A leftover partial (or ``.replaced-``
folder of an interrupted swap) is removed only when it was made on this host by a process that
is no longer alive, and only when it is laid out as a build writes it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from lerobot_ext import get_logger
from lerobot_ext.data_cache.errors import CacheBusyError
from lerobot_ext.data_cache.folders import FolderState, classify

log = get_logger("data_cache")

# A second build of one cache (another run, another shell) waits for the lock: poll and report.
LOCK_POLL_S = 1.0
LOCK_REPORT_S = 30.0
LEFTOVER_KINDS = ("partial", "replaced")


def _host() -> str:
    # '-' separates the host from the pid in a folder name; keep it out of the host part.
    return socket.gethostname().replace("-", "_") or "localhost"


def work_folder(cache_dir: Path, kind: str) -> Path:
    """``<cache>.<kind>-<host>-<pid>``: this process's partial build or replaced old cache."""
    return cache_dir.with_name(f"{cache_dir.name}.{kind}-{_host()}-{os.getpid()}")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def _owner(folder: Path, cache_dir: Path) -> tuple[str, int] | None:
    """``(host, pid)`` from a leftover's name, or ``None`` when the name is not one of ours."""
    for kind in LEFTOVER_KINDS:
        prefix = f"{cache_dir.name}.{kind}-"
        if folder.name.startswith(prefix):
            host, _, pid = folder.name[len(prefix) :].rpartition("-")
            if host and pid.isdigit():
                return host, int(pid)
    return None


def leftovers(cache_dir: Path) -> list[Path]:
    return sorted(p for kind in LEFTOVER_KINDS for p in cache_dir.parent.glob(f"{cache_dir.name}.{kind}-*"))


def remove_dead_leftovers(cache_dir: Path) -> list[Path]:
    """Remove the leftovers of dead builds on this host; returns those it left in place."""
    kept = []
    for folder in leftovers(cache_dir):
        owner = _owner(folder, cache_dir)
        ours = classify(folder) in (FolderState.CACHE, FolderState.DAMAGED, FolderState.EMPTY)
        if owner is not None and ours and owner[0] == _host() and not pid_alive(owner[1]):
            shutil.rmtree(folder, ignore_errors=True)
            log.info("removed %s, left by an interrupted build", folder)
        else:
            kept.append(folder)
            why = (
                f"its build (process {owner[1]} on {owner[0]}) may still be running"
                if owner is not None and ours
                else "it is not laid out as a build writes it"
            )
            log.warning("leaving %s in place: %s", folder, why)
    return kept


def _holder(lock_file: Path) -> str:
    try:
        text = lock_file.read_text().strip()
    except OSError:
        text = ""
    return text or "another process"


def lock_path(cache_dir: Path) -> Path:
    """The lock file a build of ``cache_dir`` holds (beside it: the cache folder is replaced whole)."""
    return cache_dir.with_name(cache_dir.name + ".lock")


@contextlib.contextmanager
def build_lock(
    cache_dir: Path, wait: bool, on_wait: Callable[[str, float], None] | None = None
) -> Iterator[None]:
    """Hold the build lock of ``cache_dir``: raise :class:`CacheBusyError` if another process holds
    it, or (``wait``) wait for it, calling ``on_wait(holder, seconds)`` every ``LOCK_REPORT_S``."""
    lock_file = lock_path(cache_dir)
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    started, reported = time.monotonic(), 0.0
    while True:
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = _holder(lock_file)
            if not wait:
                raise CacheBusyError(
                    f"another build of {cache_dir} is running ({holder}); wait for it to finish - "
                    f"`lerobot-ext cache info {cache_dir}` then says what it holds"
                ) from None
            waited = time.monotonic() - started
            if on_wait is not None and waited - reported >= LOCK_REPORT_S:
                on_wait(holder, waited)
                reported = waited
            time.sleep(LOCK_POLL_S)
            continue
        # The holder before us may have unlinked the file after we opened it: then our lock is on
        # a file nobody else sees, so start again with the file now at that path.
        try:
            same = os.stat(lock_file).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"process {os.getpid()} on {socket.gethostname()}\n".encode())
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            lock_file.unlink()  # while still holding it: nobody can lock this file after us
        os.close(fd)
