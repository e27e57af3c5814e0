"""Surges and their alerts: which topics are surging, which chats opted in, and the surge outbox.

A surge is a row in `surges`, open while `ended_at` is NULL: the state the decider's hysteresis needs
lives here, so a restart neither forgets a surge under way nor raises it again. Starting a surge and
queueing its alerts (one `surge_deliveries` row per opted-in, active, unpaused chat following the topic,
UNIQUE(surge_id, chat_id)) is one transaction; a row becomes `sent` only after Telegram accepted the
photo, so a crash leaves it pending and a restart sends it once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlite_utils

from bot.models import watch_id_of, watch_key
from storage.db import from_iso, iso


@dataclass(frozen=True)
class OpenSurge:
    """A surge under way."""

    id: int
    topic: str
    started_at: datetime
    threshold: float


@dataclass(frozen=True)
class SurgeAlert:
    """One pending surge alert for one chat, with what its caption and chart need."""

    id: int
    surge_id: int
    chat_id: int
    thread_id: int | None
    timezone: str
    topic: str
    started_at: datetime
    recent: int
    baseline: float
    window_h: int
    story_ids: tuple[int, ...]
    attempts: int


def set_surge_alerts(db: sqlite_utils.Database, chat_id: int, on: bool, now: datetime) -> None:
    """Opt a chat in to surge alerts, or out (its pending ones are dropped)."""
    with db.conn:
        if on:
            db.execute("INSERT OR IGNORE INTO surge_chats (chat_id, created_at) VALUES (?, ?)", [chat_id, iso(now)])
        else:
            db.execute("DELETE FROM surge_chats WHERE chat_id = ?", [chat_id])
            db.execute("UPDATE surge_deliveries SET status = 'cancelled' WHERE chat_id = ? AND status = 'pending'", [chat_id])


def has_surge_alerts(db: sqlite_utils.Database, chat_id: int) -> bool:
    """True when the chat opted in."""
    return db.execute("SELECT 1 FROM surge_chats WHERE chat_id = ?", [chat_id]).fetchone() is not None


def open_surges(db: sqlite_utils.Database) -> dict[str, OpenSurge]:
    """Topic -> its surge under way."""
    rows = db.execute("SELECT id, topic, started_at, threshold FROM surges WHERE ended_at IS NULL").fetchall()
    return {r[1]: OpenSurge(int(r[0]), r[1], from_iso(r[2]) or datetime.min, float(r[3])) for r in rows}


def start_surge(
    db: sqlite_utils.Database,
    topic: str,
    now: datetime,
    recent: int,
    baseline: float,
    threshold: float,
    window_h: int,
    story_ids: Sequence[int],
) -> tuple[int, int]:
    """Record a surge and queue its alerts in one transaction; return (surge id, alerts queued): for a
    topic, to the opted-in chats that follow it; for a personal watch ("watch:<id>"), to its own chat if
    it opted in. A topic with a surge already open gets none (another process started it first)."""
    with db.conn:
        if db.execute("SELECT 1 FROM surges WHERE topic = ? AND ended_at IS NULL", [topic]).fetchone():
            return 0, 0
        cur = db.execute(
            "INSERT INTO surges (topic, started_at, recent, baseline, threshold, window_h, stories) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [topic, iso(now), recent, baseline, threshold, window_h, json.dumps(list(story_ids))],
        )
        surge_id = int(cur.lastrowid or 0)
        watch_id = watch_id_of(topic)
        follows = (
            "JOIN watches w ON w.chat_id = s.chat_id AND w.id = ? AND w.removed = 0"
            if watch_id is not None
            else "JOIN subscriptions sub ON sub.chat_id = s.chat_id AND sub.topic = ?"
        )
        queued = db.execute(
            "INSERT OR IGNORE INTO surge_deliveries (surge_id, chat_id, next_attempt_at)"
            f" SELECT ?, s.chat_id, ? FROM surge_chats sc JOIN subscribers s ON s.chat_id = sc.chat_id {follows}"
            " WHERE s.active = 1 AND s.paused = 0",
            [surge_id, iso(now), watch_id if watch_id is not None else topic],
        ).rowcount
    return surge_id, max(queued, 0)


def watched_keys(db: sqlite_utils.Database) -> list[str]:
    """The keys ("watch:<id>") of every personal watch whose chat opted in to surge alerts."""
    rows = db.execute(
        "SELECT w.id FROM watches w JOIN surge_chats sc ON sc.chat_id = w.chat_id WHERE w.removed = 0 ORDER BY w.id"
    )
    return [watch_key(int(r[0])) for r in rows]


def end_surge(db: sqlite_utils.Database, surge_id: int, now: datetime) -> None:
    """The topic calmed down: the next surge will alert again."""
    with db.conn:
        db.execute("UPDATE surges SET ended_at = ? WHERE id = ? AND ended_at IS NULL", [iso(now), surge_id])


def due_surge_alerts(db: sqlite_utils.Database, now: datetime, limit: int = 1000) -> list[SurgeAlert]:
    """Pending surge alerts whose time has come, for active chats, oldest first."""
    rows = db.execute(
        "SELECT d.id, d.surge_id, d.chat_id, s.thread_id, s.timezone, g.topic, g.started_at, g.recent, g.baseline,"
        " g.window_h, g.stories, d.attempts FROM surge_deliveries d JOIN surges g ON g.id = d.surge_id"
        " JOIN subscribers s ON s.chat_id = d.chat_id"
        " WHERE d.status = 'pending' AND d.next_attempt_at <= ? AND s.active = 1 ORDER BY d.id LIMIT ?",
        [iso(now), limit],
    ).fetchall()
    return [_alert(r, now) for r in rows]


def _alert(r: Sequence[Any], now: datetime) -> SurgeAlert:
    story_ids = tuple(int(i) for i in json.loads(r[10]))
    started = from_iso(r[6]) or now
    return SurgeAlert(
        int(r[0]), int(r[1]), int(r[2]), r[3], r[4], r[5], started, int(r[7]), float(r[8]), int(r[9]), story_ids, int(r[11])
    )


def mark_surge_sent(db: sqlite_utils.Database, alert_id: int, message_ids: Sequence[int], now: datetime) -> None:
    """Telegram accepted the alert."""
    with db.conn:
        db.execute(
            "UPDATE surge_deliveries SET status = 'sent', sent_at = ?, attempts = attempts + 1, message_ids = ? WHERE id = ?",
            [iso(now), json.dumps(list(message_ids)), alert_id],
        )


def mark_surge_retry(db: sqlite_utils.Database, alert_id: int, when: datetime, error: str, *, count_attempt: bool = True) -> None:
    """Try the alert again at `when` (a flood wait or a stop does not count as an attempt)."""
    with db.conn:
        db.execute(
            "UPDATE surge_deliveries SET next_attempt_at = ?, last_error = ?, attempts = attempts + ?"
            " WHERE id = ? AND status = 'pending'",
            [iso(when), error, int(count_attempt), alert_id],
        )


def mark_surge_failed(db: sqlite_utils.Database, alert_id: int, error: str, now: datetime) -> None:
    """Give up on the alert."""
    with db.conn:
        db.execute(
            "UPDATE surge_deliveries SET status = 'failed', last_error = ?, sent_at = ?, attempts = attempts + 1 WHERE id = ?",
            [error, iso(now), alert_id],
        )


def surge_delivery_counts(db: sqlite_utils.Database) -> dict[str, int]:
    """Surge alerts per status."""
    return {status: int(n) for status, n in db.execute("SELECT status, count(*) FROM surge_deliveries GROUP BY status")}


def stories_by_id(db: sqlite_utils.Database, story_ids: Sequence[int]) -> list[tuple[int, int, str, str | None]]:
    """(id, n_feeds, title, url) of these stories, in the order given."""
    if not story_ids:
        return []
    marks = ",".join("?" * len(story_ids))
    rows = {
        int(r[0]): r for r in db.execute(f"SELECT id, n_feeds, title, url FROM stories WHERE id IN ({marks})", list(story_ids))
    }
    return [(int(rows[i][0]), int(rows[i][1]), rows[i][2], rows[i][3]) for i in story_ids if i in rows]
