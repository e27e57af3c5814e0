"""The outbox: one `deliveries` row per (chat, story), from pending to sent, failed or cancelled.

Rows are created in the same transaction as the hit that causes them (`enqueue_story`), so a crash
cannot lose one, and UNIQUE(chat_id, story_id) means a story reaches a chat at most once however
many items or topics it has. A row becomes `sent` only after Telegram accepted the message, so a
crash, a restart or a flood wait leaves it `pending` for the next drain.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlite_utils

from bot.models import Delivery
from storage.db import chunks, from_iso, iso
from storage.watches import watch_labels


def enqueue_story(db: sqlite_utils.Database, story_id: int, topic: str, now: str) -> int:
    """Queue a story for every active, unpaused chat following the topic (call inside the hit's
    transaction). Return the number of deliveries created."""
    cur = db.execute(
        "INSERT OR IGNORE INTO deliveries (chat_id, story_id, topic, kind, status, created_at, next_attempt_at)"
        " SELECT s.chat_id, ?, ?, CASE s.mode WHEN 'digest' THEN 'digest' ELSE 'alert' END, 'pending', ?, ?"
        " FROM subscriptions sub JOIN subscribers s ON s.chat_id = sub.chat_id"
        " WHERE sub.topic = ? AND s.active = 1 AND s.paused = 0",
        [story_id, topic, now, now, topic],
    )
    return max(cur.rowcount, 0)


def story_sources(db: sqlite_utils.Database, story_ids: Sequence[int]) -> dict[int, list[str]]:
    """The names of the feeds that carried each story, the first one first."""
    out: dict[int, list[str]] = {}
    for chunk in chunks(story_ids):
        marks = ",".join("?" * len(chunk))
        rows = db.execute(
            f"SELECT i.story_id, f.name FROM items i JOIN feeds f ON f.id = i.feed_id WHERE i.story_id IN ({marks}) ORDER BY i.id",
            list(chunk),
        )
        for story_id, name in rows:
            names = out.setdefault(story_id, [])
            if name not in names:
                names.append(name)
    return out


def _deliveries(db: sqlite_utils.Database, where: str, params: list[Any]) -> list[Delivery]:
    rows = list(
        db.query(
            "SELECT d.id, d.chat_id, s.thread_id, d.kind, d.story_id, d.topic, d.attempts,"
            " st.title, st.url, st.published_at, st.first_seen_at, st.n_feeds"
            " FROM deliveries d JOIN subscribers s ON s.chat_id = d.chat_id JOIN stories st ON st.id = d.story_id"
            f" WHERE {where}",
            params,
        )
    )
    sources = story_sources(db, sorted({r["story_id"] for r in rows}))
    labels = watch_labels(db, [r["topic"] for r in rows])  # a watch shows as its name
    result = []
    for r in rows:
        names = sources.get(r["story_id"]) or ["?"]
        result.append(
            Delivery(
                id=r["id"],
                chat_id=r["chat_id"],
                thread_id=r["thread_id"],
                kind=r["kind"],
                story_id=r["story_id"],
                topic=labels.get(r["topic"], r["topic"]),
                title=r["title"],
                url=r["url"],
                feed=names[0],
                published_at=from_iso(r["published_at"]),
                first_seen_at=from_iso(r["first_seen_at"]),
                attempts=r["attempts"],
                n_feeds=max(r["n_feeds"], len(names)),
                also=tuple(names[1:]),
            )
        )
    return result


def due_alerts(db: sqlite_utils.Database, now: datetime, limit: int = 5000) -> list[Delivery]:
    """Pending alerts whose time has come, for active chats, oldest first."""
    return _deliveries(
        db,
        "d.status = 'pending' AND d.kind = 'alert' AND d.next_attempt_at <= ? AND s.active = 1 ORDER BY d.id LIMIT ?",
        [iso(now), limit],
    )


def deliveries_by_id(db: sqlite_utils.Database, ids: Sequence[int]) -> list[Delivery]:
    """These deliveries, whatever their status, in id order."""
    out: list[Delivery] = []
    for chunk in chunks(list(ids)):
        out += _deliveries(db, f"d.id IN ({','.join('?' * len(chunk))}) ORDER BY d.id", list(chunk))
    return out


def pending_digest(db: sqlite_utils.Database, chat_id: int) -> list[Delivery]:
    """Every story waiting for the chat's next digest, oldest first."""
    return _deliveries(db, "d.status = 'pending' AND d.kind = 'digest' AND d.chat_id = ? ORDER BY d.id", [chat_id])


def mark_sent(
    db: sqlite_utils.Database,
    ids: Sequence[int],
    message_ids: Sequence[int],
    now: datetime,
    *,
    shown_as: str | None = None,
    shown_feeds: Sequence[int] | None = None,
) -> None:
    """Telegram accepted the message that carried these deliveries; `shown_as` says what it was
    (alert, burst, digest) and `shown_feeds` how many outlets it named for each delivery."""
    feeds = list(shown_feeds) if shown_feeds is not None else [None] * len(ids)
    with db.conn:
        db.conn.executemany(
            "UPDATE deliveries SET status = 'sent', sent_at = ?, attempts = attempts + 1, message_ids = ?,"
            " shown_as = ?, shown_feeds = ? WHERE id = ?",
            [(iso(now), json.dumps(list(message_ids)), shown_as, n, i) for i, n in zip(ids, feeds, strict=True)],
        )


def mark_retry(db: sqlite_utils.Database, ids: Sequence[int], when: datetime, error: str, *, count_attempt: bool = True) -> None:
    """Try these deliveries again at `when` (a flood wait does not count as a failed attempt)."""
    with db.conn:
        db.conn.executemany(
            "UPDATE deliveries SET next_attempt_at = ?, last_error = ?, attempts = attempts + ? WHERE id = ? AND status = 'pending'",
            [(iso(when), error, int(count_attempt), i) for i in ids],
        )


def mark_failed(db: sqlite_utils.Database, ids: Sequence[int], error: str, now: datetime) -> None:
    """Give up on these deliveries after too many errors."""
    with db.conn:
        db.conn.executemany(
            "UPDATE deliveries SET status = 'failed', last_error = ?, sent_at = ?, attempts = attempts + 1 WHERE id = ?",
            [(error, iso(now), i) for i in ids],
        )


def convert_pending(db: sqlite_utils.Database, chat_id: int, kind: str) -> int:
    """Move a chat's pending deliveries to another kind (its mode changed)."""
    with db.conn:
        return db.execute(
            "UPDATE deliveries SET kind = ? WHERE chat_id = ? AND status = 'pending' AND kind != ?", [kind, chat_id, kind]
        ).rowcount


def alerts_sent_since(db: sqlite_utils.Database, chat_id: int, since: datetime) -> int:
    """Alerts sent to the chat since a time (for burst collapsing)."""
    row = db.execute(
        "SELECT count(*) FROM deliveries WHERE chat_id = ? AND status = 'sent' AND kind = 'alert' AND sent_at >= ?",
        [chat_id, iso(since)],
    ).fetchone()
    return int(row[0])


def outbox_counts(db: sqlite_utils.Database) -> dict[str, int]:
    """Deliveries per status."""
    return {status: n for status, n in db.execute("SELECT status, count(*) FROM deliveries GROUP BY status")}
