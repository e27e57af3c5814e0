"""The database thread: storage functions run off the event loop, and writes commit in groups.

One connection serves the whole process, used from a single worker thread, so statements never block
the event loop and never race. Writes that arrive while the thread is busy wait for it together and
then run in one write transaction (group commit): each in its own savepoint, so a write that fails
undoes only its own changes, and each caller gets its result only after the shared COMMIT, so
nothing is reported before it is stored. A poll of 1,000 feeds that mostly answer 304 so makes a
few dozen transactions instead of 1,000. A fault that ends the whole transaction (disk full, a lost
lock) fails every write of the group; each caller sees it as its own StorageError.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import sqlite_utils

from storage.faults import storage_error

T = TypeVar("T")
MAX_GROUP = 64  # writes per transaction at most, so no transaction holds the write lock for long


@dataclass
class _Write:
    fn: Callable[..., Any]
    args: tuple[object, ...]
    kwargs: dict[str, object]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop


class AsyncDB:
    """Runs storage functions on one worker thread that owns the connection."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        self.path = next((row[2] for row in db.execute("PRAGMA database_list") if row[1] == "main"), "") or ":memory:"
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._lock = threading.Lock()
        self._pending: list[_Write] = []
        self._flush_queued = False

    async def run(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        """Call fn(db, *args, **kwargs) on the database thread; sqlite3 faults come out as StorageError."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(self._call, fn, args, kwargs))

    async def write(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        """Call fn(db, *args, **kwargs) on the database thread inside a write transaction shared with the
        writes queued meanwhile; return once it is committed. Calls made after it (`run` or `write`) see
        its changes."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        with self._lock:
            self._pending.append(_Write(fn, args, kwargs, future, loop))
            start = not self._flush_queued
            self._flush_queued = True
        if start:
            self._executor.submit(self._flush)
        return await future

    def _call(self, fn: Callable[..., T], args: tuple[object, ...], kwargs: dict[str, object]) -> T:
        try:
            return fn(self.db, *args, **kwargs)
        except sqlite3.Error as e:
            raise self._mapped(e) from e

    def _mapped(self, e: BaseException) -> BaseException:
        return (storage_error(e, self.path) or e) if isinstance(e, sqlite3.Error) else e

    def _flush(self) -> None:
        """Run the queued writes, a group at a time, each group in one transaction."""
        while True:
            with self._lock:
                group, self._pending = self._pending[:MAX_GROUP], self._pending[MAX_GROUP:]
                if not group:
                    self._flush_queued = False
                    return
            self._commit_group(group)

    def _commit_group(self, group: list[_Write]) -> None:
        conn = self.db.conn
        outcomes: list[tuple[bool, Any]] = []
        try:
            with conn:  # BEGIN IMMEDIATE ... COMMIT (storage.db.TransactionConnection)
                for w in group:
                    conn.execute("SAVEPOINT write")
                    try:
                        outcomes.append((True, w.fn(self.db, *w.args, **w.kwargs)))
                    except Exception as e:
                        if not conn.in_transaction:
                            raise  # SQLite ended the whole transaction: nothing of the group is stored
                        conn.execute("ROLLBACK TO write")
                        if (count := getattr(conn, "rolled_back", None)) is not None:
                            count()  # storage.db.TransactionConnection: its kept memory is stale now
                        outcomes.append((False, self._mapped(e)))
                    conn.execute("RELEASE write")
        except Exception as e:
            error = self._mapped(e)
            outcomes = [(False, error)] * len(group)
        # One wake-up of each waiting loop for the whole group, not one per write: a poll of 1,000
        # unchanged feeds makes 1,000 writes.
        settled: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
        for w, (ok, value) in zip(group, outcomes, strict=True):
            settled.setdefault(w.loop, []).append((w.future, ok, value))
        for loop, results in settled.items():
            loop.call_soon_threadsafe(_settle_all, results)

    def close(self) -> None:
        """Finish pending work and close the connection."""
        self._executor.shutdown(wait=True)
        self.db.close()


def _settle_all(results: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in results:
        if future.cancelled():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
