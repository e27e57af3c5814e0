"""Open the database (WAL, foreign keys), apply migrations, run queries off the event loop.

The schema version lives in PRAGMA user_version; the pending migrations run once, in order, in one
write transaction that re-reads the version, so processes starting together cannot both apply one.
At open, the tables are checked against the ones the migrations create. sqlite3 faults leave this
module as StorageError subclasses that name the file and the remedy (storage/faults.py). One connection serves the whole process: it is opened with check_same_thread=False and
used from a single worker thread (`AsyncDB`, storage/asyncdb.py), so writes never block the event loop and never race.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from functools import cache, lru_cache
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeVar

import sqlite_utils

from bot.errors import SchemaMismatch, StorageError
from storage.asyncdb import AsyncDB as AsyncDB  # the database thread, imported from here by most callers
from storage.faults import REPLACE, storage_error
from storage.schema import MIGRATIONS as MIGRATIONS  # imported from here by the tests

T = TypeVar("T")


def chunks(values: Sequence[T], size: int = 500) -> Iterator[Sequence[T]]:
    """Slices of at most `size` values (SQLite caps the parameters of one statement)."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


@lru_cache(maxsize=1024)
def iso(dt: datetime | None) -> str | None:
    """A datetime as stored: ISO 8601 in UTC, or None (cached: a poll stores many items at one time)."""
    return dt.astimezone(UTC).isoformat(timespec="seconds") if dt else None


def hour_of(dt: datetime) -> str:
    """The UTC hour a time falls in, as stored for hourly counts: 2024-10-21T09."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H")


def from_iso(text: str | None) -> datetime | None:
    """A stored ISO 8601 string back to an aware datetime."""
    return datetime.fromisoformat(text) if text else None


def open_database(path: Path | str) -> sqlite_utils.Database:
    """Open (creating if needed) and migrate the database file; raise a StorageError saying what to do."""
    conn: sqlite3.Connection | None = None
    try:
        conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30, factory=TransactionConnection)
        db = sqlite_utils.Database(conn)
        _use_wal(conn)
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        if migrate(db, str(path)):
            conn.close()  # a migration may edit a table's definition in place (10): read it afresh
            conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30, factory=TransactionConnection)
            db = sqlite_utils.Database(conn)
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
        check_schema(db, str(path))
    except (sqlite3.Error, StorageError) as e:
        if conn is not None:
            conn.close()
        if isinstance(e, StorageError):
            raise
        raise storage_error(e, path) or StorageError(f"storage: cannot open {path}: {e}") from e
    return db


def _use_wal(conn: sqlite3.Connection, wait_s: float = 30.0) -> None:
    """Switch the file to WAL. SQLite answers "database is locked" at once, without its busy handler,
    when another process is switching or migrating a fresh file at that moment: wait for it as the
    busy timeout would, then see the mode it left."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def migrate(db: sqlite_utils.Database, path: str = "") -> int:
    """Apply the migrations not applied yet; return how many this call applied.

    The version is read again inside a write transaction (BEGIN IMMEDIATE), so processes starting
    together on a fresh file apply each migration once: the others wait for the lock, then find
    nothing left to do."""
    if _user_version(db) == len(MIGRATIONS):
        return 0
    with db.conn:  # BEGIN IMMEDIATE: see TransactionConnection
        before = _user_version(db)
        _apply_migrations(db.conn, before, path)
    return len(MIGRATIONS) - before


class TransactionConnection(sqlite3.Connection):
    """A connection on which `with conn:` is one write transaction: BEGIN IMMEDIATE, then COMMIT, or
    ROLLBACK on an exception; a block inside another joins the outer one, which alone ends it.

    sqlite3's own `with conn:` opens no transaction, and sqlite-utils commits each `db.execute` write
    on its own when none is open: without this, a block of writes that fails half-way (disk full, a
    crash) would leave its first half stored. IMMEDIATE takes the write lock at the start, so a
    block never fails half-way for a lock another process took after it began reading."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._depth = 0
        # Transactions and savepoints rolled back so far: what this connection keeps in memory of the
        # stored state (storage.stories.DocumentFrequencies) is good only while this stays the same.
        self.rollbacks = 0
        self.kept: dict[str, object] = {}  # that memory, by name

    def rolled_back(self) -> None:
        """Count a rollback (of the transaction or of a savepoint)."""
        self.rollbacks += 1

    def __enter__(self) -> TransactionConnection:
        if self._depth == 0 and not self.in_transaction:
            self.execute("BEGIN IMMEDIATE")
        self._depth += 1
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> Literal[False]:
        self._depth -= 1
        if self._depth:
            return False  # an inner block: the outer one ends the transaction
        if et is not None:
            self.rolled_back()
        if not self.in_transaction:  # SQLite rolled back already (disk full)
            return False
        if et is not None:
            self.execute("ROLLBACK")
            return False
        try:
            self.execute("COMMIT")
        except BaseException:
            self.rolled_back()
            if self.in_transaction:
                self.execute("ROLLBACK")
            raise
        return False


def _user_version(db: sqlite_utils.Database) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def _apply_migrations(conn: sqlite3.Connection, version: int, path: str) -> None:
    if version > len(MIGRATIONS):
        raise SchemaMismatch(
            f"storage: {path}: the database has schema {version}, newer than this program's {len(MIGRATIONS)}:"
            " run the newer Newswatch, or restore a backup made for this version"
        )
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        try:
            for statement in _statements(script):
                conn.execute(statement)
        except sqlite3.OperationalError as e:
            mapped = storage_error(e, path)
            if mapped is not None and not isinstance(mapped, SchemaMismatch):
                raise  # disk full, locked...: open_database says so
            raise SchemaMismatch(
                f"storage: {path}: upgrading the schema from {version} to {number} failed ({e}): the tables do not"
                f" match schema {version}; {REPLACE}"
            ) from e
        conn.execute(f"PRAGMA user_version={number}")


def _statements(script: str) -> Iterator[str]:
    """The statements of a migration script, one at a time (executescript would commit our transaction)."""
    pending = ""
    for part in script.split(";"):
        pending += part + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                yield pending
            pending = ""


@cache
def expected_columns() -> dict[str, frozenset[str]]:
    """Table -> column names after every migration (read from a scratch in-memory database)."""
    scratch = sqlite3.connect(":memory:")
    try:
        for script in MIGRATIONS:
            scratch.executescript(script)
        tables = [r[0] for r in scratch.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: frozenset(r[1] for r in scratch.execute(f"PRAGMA table_info([{t}])")) for t in tables}
    finally:
        scratch.close()


def check_schema(db: sqlite_utils.Database, path: str) -> None:
    """Raise SchemaMismatch when a table or column the program uses is missing from the file."""
    for table, columns in expected_columns().items():
        found = {r[1] for r in db.execute(f"PRAGMA table_info([{table}])")}
        missing = sorted(columns - found)
        if missing:
            what = f"table {table} is missing" if not found else f"table {table} lacks {', '.join(missing)}"
            raise SchemaMismatch(
                f"storage: {path}: {what} although the schema version is {_user_version(db)}: the database was"
                f" changed outside Newswatch; {REPLACE}"
            )
