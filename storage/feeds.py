"""The feeds table: per-feed state (validators, health, schedule). The feed list itself lives in feeds.yaml."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlite_utils

from bot.models import FeedConfig
from storage.db import from_iso, hour_of, iso


@dataclass(frozen=True)
class FeedState:
    """What the pipeline needs to know about a feed before polling it."""

    id: int
    source: str
    name: str
    url: str
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    error_count: int
    next_poll_at: datetime | None
    last_new_item_at: datetime | None
    paused_reason: str | None
    last_polled_at: datetime | None = None
    last_ok_at: datetime | None = None
    failing_since: datetime | None = None
    last_error: str | None = None
    note: str | None = None
    last_status: int | None = None
    item_digests: str | None = None  # of the item elements of the body last stored (bot.sources.fastrss)


def sync_feeds(db: sqlite_utils.Database, feeds: Sequence[FeedConfig]) -> dict[str, int]:
    """Make the feeds table follow the config; return source -> feed id. Removed feeds keep their rows.

    A table that follows the config already (every run after the first with the same feeds.yaml) is
    read once and not written: no write transaction, no lock taken."""
    stored = {r[0]: r[1:] for r in db.execute("SELECT source, id, kind, name, interval_s, enabled, in_config FROM feeds")}
    wanted = {f.source: (f.kind, f.name, f.interval_s, int(f.enabled), 1) for f in feeds}
    if sum(1 for row in stored.values() if row[5]) == len(wanted) and all(
        (row := stored.get(source)) is not None and tuple(row[1:]) == values for source, values in wanted.items()
    ):
        return {source: int(stored[source][0]) for source in wanted}
    ids: dict[str, int] = {}
    with db.conn:
        db.execute("UPDATE feeds SET in_config = 0")
        for f in feeds:
            row = db.execute("SELECT id, url FROM feeds WHERE source = ?", [f.source]).fetchone()
            if row is None:
                cur = db.execute(
                    "INSERT INTO feeds (source, kind, name, url, interval_s, enabled) VALUES (?, ?, ?, ?, ?, ?)",
                    [f.source, f.kind, f.name, f.url, f.interval_s, int(f.enabled)],
                )
                ids[f.source] = int(cur.lastrowid or 0)
            else:
                db.execute(
                    "UPDATE feeds SET kind = ?, name = ?, interval_s = ?, enabled = ?, in_config = 1 WHERE id = ?",
                    [f.kind, f.name, f.interval_s, int(f.enabled), row[0]],
                )
                ids[f.source] = int(row[0])
    return ids


def get_feed_state(db: sqlite_utils.Database, feed_id: int) -> FeedState:
    """The stored state of one feed."""
    return _state(next(db.query("SELECT * FROM feeds WHERE id = ?", [feed_id])))


def list_feed_states(db: sqlite_utils.Database) -> dict[int, FeedState]:
    """The state of every feed in the config, by feed id."""
    return {r["id"]: _state(r) for r in db.query("SELECT * FROM feeds WHERE in_config = 1 ORDER BY id")}


def _state(r: dict[str, Any]) -> FeedState:
    return FeedState(
        id=r["id"],
        source=r["source"],
        name=r["name"],
        url=r["url"],
        etag=r["etag"],
        last_modified=r["last_modified"],
        body_hash=r["body_hash"],
        error_count=r["error_count"],
        next_poll_at=from_iso(r["next_poll_at"]),
        last_new_item_at=from_iso(r["last_new_item_at"]),
        paused_reason=r["paused_reason"],
        last_polled_at=from_iso(r["last_polled_at"]),
        last_ok_at=from_iso(r["last_ok_at"]),
        failing_since=from_iso(r["failing_since"]),
        last_error=r["last_error"],
        note=r["note"],
        last_status=r["last_status"],
        item_digests=r["item_digests"],
    )


def record_not_modified(
    db: sqlite_utils.Database,
    feed_id: int,
    status: int,
    now: datetime,
    next_poll_at: datetime | None,
    etag: str | None = None,
    last_modified: str | None = None,
) -> None:
    """A poll that found nothing new (304, or a 200 with the body already seen and maybe new validators).
    With no `next_poll_at` (a poll by a process that does not own the schedule) the next poll stays."""
    values: dict[str, object] = {
        "last_polled_at": iso(now),
        "last_ok_at": iso(now),
        "last_status": status,
        "error_count": 0,
        "failing_since": None,
        "last_error": None,
    }
    if next_poll_at is not None:
        values["next_poll_at"] = iso(next_poll_at)
    if etag:
        values["etag"] = etag
    if last_modified:
        values["last_modified"] = last_modified
    update_feed(db, feed_id, values)


def update_feed(db: sqlite_utils.Database, feed_id: int, values: dict[str, object]) -> None:
    """Set these columns of one feed (names from the code, never from input), in one statement.

    Plain SQL on the connection: sqlite-utils' `Table.update` reads the table's columns (PRAGMA
    table_info) on every call, which was half the database time of a poll that found nothing new."""
    columns = ", ".join(f"{name} = ?" for name in values)
    with db.conn:
        db.conn.execute(f"UPDATE feeds SET {columns} WHERE id = ?", [*values.values(), feed_id])


def record_error(
    db: sqlite_utils.Database, feed_id: int, error: str, status: int | None, now: datetime, next_poll_at: datetime | None
) -> tuple[int, datetime | None]:
    """A failed poll; return the number of consecutive failures and when they began.

    With a `next_poll_at` the failure counts towards the back-off and sets the next poll. Without
    one (a poll by a process that does not own the schedule: `once` beside the running bot) the
    error, status and time are recorded for display and the count and the schedule stay as they are."""
    with db.conn:
        if next_poll_at is None:
            db.execute(
                "UPDATE feeds SET last_error = ?, last_status = ?, last_polled_at = ? WHERE id = ?",
                [error, status, iso(now), feed_id],
            )
        else:
            db.execute(
                "UPDATE feeds SET error_count = error_count + 1, last_error = ?, last_status = ?, last_polled_at = ?,"
                " failing_since = COALESCE(failing_since, ?), next_poll_at = ? WHERE id = ?",
                [error, status, iso(now), iso(now), iso(next_poll_at), feed_id],
            )
        db.execute("INSERT OR IGNORE INTO feed_failures (hour, feed_id) VALUES (?, ?)", [hour_of(now), feed_id])
        count, since = db.execute("SELECT error_count, failing_since FROM feeds WHERE id = ?", [feed_id]).fetchone()
    if next_poll_at is None:
        return int(count), from_iso(since)
    return int(count), from_iso(since) or now


def pause_feed(db: sqlite_utils.Database, feed_id: int, reason: str) -> None:
    """Stop polling a feed (health: it kept failing) until an admin resumes it."""
    with db.conn:
        db.execute("UPDATE feeds SET paused_reason = ?, next_poll_at = NULL WHERE id = ?", [reason, feed_id])


def resume_feed(db: sqlite_utils.Database, feed_id: int) -> None:
    """Clear a health pause and the failure count, so the feed is polled at once with no back-off."""
    with db.conn:
        db.execute(
            "UPDATE feeds SET paused_reason = NULL, error_count = 0, failing_since = NULL, next_poll_at = NULL WHERE id = ?",
            [feed_id],
        )
