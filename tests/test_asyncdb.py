"""Group commit on the database thread: writes that wait together commit together, each one's failure
undoes only its own changes, and a fault that ends the transaction fails every write of the group."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from typing import Any

import pytest
import sqlite_utils

from bot.errors import StorageError
from storage.db import AsyncDB


def add_story(db: sqlite_utils.Database, title: str) -> int:
    with db.conn:
        cur = db.conn.execute("INSERT INTO stories (title, first_seen_at, last_seen_at) VALUES (?, 'x', 'x')", [title])
        return int(cur.lastrowid or 0)


def add_then_fail(db: sqlite_utils.Database, title: str) -> None:
    add_story(db, title)
    raise ValueError("half-way")


def titles(db: sqlite_utils.Database) -> list[str]:
    return [r[0] for r in db.conn.execute("SELECT title FROM stories ORDER BY id")]


async def test_writes_waiting_together_share_one_commit_and_each_gets_its_result(fresh_db: sqlite_utils.Database) -> None:
    adb = AsyncDB(fresh_db)
    commits: list[str] = []
    fresh_db.conn.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
    loop = asyncio.get_running_loop()
    wakeups: list[str] = []  # the database thread's calls into the loop that settle writes
    threadsafe = loop.call_soon_threadsafe

    def counted(callback: Any, *args: Any, **kwargs: Any) -> asyncio.Handle:
        wakeups.append(getattr(callback, "__name__", ""))
        return threadsafe(callback, *args, **kwargs)

    loop.call_soon_threadsafe = counted  # type: ignore[method-assign]
    gate = threading.Event()
    blocker = asyncio.ensure_future(adb.run(lambda db: gate.wait(5)))  # the thread is busy meanwhile
    writes = [asyncio.ensure_future(adb.write(add_story, f"s{i}")) for i in range(10)]
    await asyncio.sleep(0.05)
    gate.set()
    ids = await asyncio.gather(*writes)
    await blocker
    del loop.call_soon_threadsafe
    assert sorted(ids) == list(range(1, 11)) and len(commits) == 1
    assert wakeups.count("_settle_all") == 1  # the ten results reach the loop in one wake-up
    assert titles(fresh_db) == [f"s{i}" for i in range(10)]
    adb.close()


async def test_a_failing_write_undoes_only_its_own_changes(fresh_db: sqlite_utils.Database) -> None:
    adb = AsyncDB(fresh_db)
    gate = threading.Event()
    blocker = asyncio.ensure_future(adb.run(lambda db: gate.wait(5)))
    before = asyncio.ensure_future(adb.write(add_story, "before"))
    failing = asyncio.ensure_future(adb.write(add_then_fail, "lost"))
    after = asyncio.ensure_future(adb.write(add_story, "after"))
    await asyncio.sleep(0.05)
    gate.set()
    await blocker
    assert await before and await after
    with pytest.raises(ValueError, match="half-way"):
        await failing
    assert titles(fresh_db) == ["before", "after"]
    assert (await adb.run(titles)) == ["before", "after"]  # committed: a read after the writes sees them
    assert getattr(fresh_db.conn, "rollbacks", None) == 1  # what the connection keeps in memory is dropped
    adb.close()


async def test_a_fault_that_ends_the_transaction_fails_every_write_of_the_group(fresh_db: sqlite_utils.Database) -> None:
    adb = AsyncDB(fresh_db)
    gate = threading.Event()

    def lock_lost(db: sqlite_utils.Database) -> None:
        db.conn.execute("ROLLBACK")  # what SQLite does itself on a full disk or an I/O error
        raise sqlite3.OperationalError("database or disk is full")

    blocker = asyncio.ensure_future(adb.run(lambda db: gate.wait(5)))
    first = asyncio.ensure_future(adb.write(add_story, "first"))
    fault = asyncio.ensure_future(adb.write(lock_lost))
    await asyncio.sleep(0.05)
    gate.set()
    await blocker
    for write in (first, fault):
        with pytest.raises((StorageError, sqlite3.Error), match="disk is full"):
            await write
    assert titles(fresh_db) == []
    assert await adb.write(add_story, "later") == 1  # the thread goes on with the next group
    adb.close()
