"""The process-wide lock that keeps two ``newscrawl crawl`` runs from overlapping (docs/operations.md).

An ``flock`` on a lock file: the kernel releases it when its holder exits in any way, ``kill -9``
included, so a lock left behind by a killed run is never stale in effect — the next run simply takes
it. The file records the holder's pid and start time, for the message a second run prints.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from types import TracebackType


class LockHeld(Exception):
    """Another process holds the lock; the message says which."""


class RunLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self.previous_holder: str | None = None

    def acquire(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode("utf-8", "replace").strip() or "unknown process"
            os.close(fd)
            raise LockHeld(f"another newscrawl crawl holds {self.path} ({holder})") from None
        stale = os.read(fd, 200).decode("utf-8", "replace").strip()
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"pid {os.getpid()} since {time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n".encode())
        os.fsync(fd)
        self._fd = fd
        self.previous_holder = stale or None
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
