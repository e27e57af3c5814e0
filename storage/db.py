"""Open the database (WAL, foreign keys), apply migrations, run queries off the event loop.

The schema version lives in PRAGMA user_version; each migration runs once, in order, in one
transaction. One connection serves the whole process: it is opened with check_same_thread=False and
used from a single worker thread (`AsyncDB`), so writes never block the event loop and never race.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import ParamSpec, TypeVar

import sqlite_utils

from bot.errors import StorageError

P = ParamSpec("P")
T = TypeVar("T")

MIGRATIONS: list[str] = [
    # 1: feeds, items, stories, hits, subscribers, subscriptions, deliveries
    """
    CREATE TABLE feeds (
        id INTEGER PRIMARY KEY,
        source TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        url TEXT NOT NULL,
        interval_s INTEGER NOT NULL,
        enabled INTEGER NOT NULL DEFAULT 1,
        in_config INTEGER NOT NULL DEFAULT 1,
        etag TEXT,
        last_modified TEXT,
        body_hash TEXT,
        next_poll_at TEXT,
        last_polled_at TEXT,
        last_ok_at TEXT,
        last_new_item_at TEXT,
        error_count INTEGER NOT NULL DEFAULT 0,
        failing_since TEXT,
        last_error TEXT,
        last_status INTEGER,
        paused_reason TEXT,
        note TEXT
    );
    CREATE TABLE stories (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL,
        url TEXT,
        canonical_url TEXT,
        first_seen_at TEXT NOT NULL,
        last_seen_at TEXT NOT NULL,
        published_at TEXT,
        n_items INTEGER NOT NULL DEFAULT 1,
        n_feeds INTEGER NOT NULL DEFAULT 1,
        signature TEXT
    );
    CREATE INDEX stories_canonical_url ON stories(canonical_url);
    CREATE INDEX stories_first_seen ON stories(first_seen_at);
    CREATE TABLE items (
        id INTEGER PRIMARY KEY,
        feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        url TEXT,
        canonical_url TEXT,
        title TEXT NOT NULL,
        text TEXT NOT NULL,
        published_at TEXT,
        fetched_at TEXT NOT NULL,
        story_id INTEGER NOT NULL REFERENCES stories(id),
        extra TEXT,
        UNIQUE(feed_id, key)
    );
    CREATE INDEX items_canonical_url ON items(canonical_url);
    CREATE INDEX items_story ON items(story_id);
    CREATE INDEX items_fetched ON items(fetched_at);
    CREATE TABLE hits (
        id INTEGER PRIMARY KEY,
        story_id INTEGER NOT NULL REFERENCES stories(id),
        topic TEXT NOT NULL,
        item_id INTEGER NOT NULL REFERENCES items(id),
        matched TEXT NOT NULL,
        created_at TEXT NOT NULL,
        reported_at TEXT,
        UNIQUE(story_id, topic)
    );
    CREATE INDEX hits_unreported ON hits(reported_at) WHERE reported_at IS NULL;
    CREATE TABLE subscribers (
        chat_id INTEGER PRIMARY KEY,
        thread_id INTEGER,
        kind TEXT NOT NULL DEFAULT 'private',
        title TEXT,
        mode TEXT NOT NULL DEFAULT 'instant',
        digest_times TEXT NOT NULL DEFAULT '["08:00","18:00"]',
        timezone TEXT NOT NULL DEFAULT 'UTC',
        active INTEGER NOT NULL DEFAULT 1,
        blocked_reason TEXT,
        last_digest_at TEXT,
        created_at TEXT NOT NULL
    );
    CREATE TABLE subscriptions (
        chat_id INTEGER NOT NULL REFERENCES subscribers(chat_id) ON DELETE CASCADE ON UPDATE CASCADE,
        topic TEXT NOT NULL,
        PRIMARY KEY (chat_id, topic)
    );
    CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY,
        chat_id INTEGER NOT NULL REFERENCES subscribers(chat_id) ON DELETE CASCADE ON UPDATE CASCADE,
        story_id INTEGER NOT NULL REFERENCES stories(id),
        topic TEXT NOT NULL,
        kind TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT,
        last_error TEXT,
        message_ids TEXT,
        created_at TEXT NOT NULL,
        sent_at TEXT,
        UNIQUE(chat_id, story_id)
    );
    CREATE INDEX deliveries_pending ON deliveries(status, next_attempt_at);
    """,
    # 2: paused subscribers, stored digest schedule, per-chat outbox lookups
    """
    ALTER TABLE subscribers ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE subscribers ADD COLUMN next_digest_at TEXT;
    CREATE INDEX subscribers_digest ON subscribers(mode, next_digest_at);
    CREATE INDEX deliveries_chat ON deliveries(chat_id, status, sent_at);
    """,
]


def chunks(values: Sequence[T], size: int = 500) -> Iterator[Sequence[T]]:
    """Slices of at most `size` values (SQLite caps the parameters of one statement)."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def iso(dt: datetime | None) -> str | None:
    """A datetime as stored: ISO 8601 in UTC, or None."""
    return dt.astimezone(UTC).isoformat(timespec="seconds") if dt else None


def from_iso(text: str | None) -> datetime | None:
    """A stored ISO 8601 string back to an aware datetime."""
    return datetime.fromisoformat(text) if text else None


def open_database(path: Path | str) -> sqlite_utils.Database:
    """Open (creating if needed) and migrate the database file."""
    try:
        conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
        db = sqlite_utils.Database(conn)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        migrate(db)
    except sqlite3.DatabaseError as e:
        raise StorageError(f"storage: cannot open {path}: {e}") from e
    return db


def migrate(db: sqlite_utils.Database) -> int:
    """Apply the migrations not applied yet; return the schema version."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise StorageError(f"storage: database schema {version} is newer than this program ({len(MIGRATIONS)})")
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        db.conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")
    return len(MIGRATIONS)


class AsyncDB:
    """Runs storage functions on one worker thread that owns the connection."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")

    async def run(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        """Call fn(db, *args, **kwargs) on the database thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(fn, self.db, *args, **kwargs))

    def close(self) -> None:
        """Finish pending work and close the connection."""
        self._executor.shutdown(wait=True)
        self.db.close()
