"""Which process owns the feeds' schedule on one database file.

The running bot (`python -m bot run`) schedules every feed: after each failure it doubles the wait
(from the feed's stored failure count) and stores the next poll. A `once` beside it polls the same
feeds; if it counted its failures too, two processes failing on one feed would double its back-off
twice as fast. So the bot holds an advisory lock on `<database>.run.lock` for as long as it runs,
and a `once` that finds the lock held polls without touching the schedule (it still records what
it saw). A `once` alone on the database owns the schedule. The kernel drops the lock when the bot
exits, SIGKILL included, so a dead bot never keeps `once` from counting.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


def lock_path(db_path: Path | str) -> Path:
    """The lock file of a database file."""
    return Path(f"{db_path}.run.lock")


class ScheduleLock:
    """The running bot's claim on a database's schedule, held until `release` or the process ends."""

    def __init__(self, db_path: Path | str) -> None:
        self.path = lock_path(db_path)
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock; False when another running bot holds it (or the file cannot be made)."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        """Let go of the lock (closing the file drops it)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def schedule_held_elsewhere(db_path: Path | str) -> bool:
    """True while a running bot holds the database's schedule lock."""
    try:
        fd = os.open(lock_path(db_path), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:  # no bot ever ran on this file (or it cannot be read): nobody else schedules
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # closing drops the shared lock taken just now
    return False
