"""Subscribers (chats) and the topics they follow.

A chat is a row in `subscribers`; /stop deletes it, and its subscriptions and deliveries go with it
(ON DELETE CASCADE). A chat that blocked the bot stays, inactive, with the reason, so an admin can see
why it stopped receiving. A group that became a supergroup keeps everything under its new id
(ON UPDATE CASCADE).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlite_utils

from bot.models import Subscriber
from storage.db import from_iso, iso
from storage.watches import move_chat_watches, remove_chat_watches

CONSOLE_CHAT_ID = 0  # the console sender's chat: Telegram never uses 0 as a chat id


def _subscriber(row: dict[str, Any]) -> Subscriber:
    return Subscriber(
        chat_id=row["chat_id"],
        thread_id=row["thread_id"],
        kind=row["kind"],
        title=row["title"],
        mode=row["mode"],
        digest_times=tuple(json.loads(row["digest_times"])),
        timezone=row["timezone"],
        active=bool(row["active"]),
        paused=bool(row["paused"]),
        blocked_reason=row["blocked_reason"],
        next_digest_at=from_iso(row["next_digest_at"]),
        last_digest_at=from_iso(row["last_digest_at"]),
    )


def get_subscriber(db: sqlite_utils.Database, chat_id: int) -> Subscriber | None:
    """The chat's row, or None when it never subscribed (or sent /stop)."""
    rows = list(db.query("SELECT * FROM subscribers WHERE chat_id = ?", [chat_id]))
    return _subscriber(rows[0]) if rows else None


def start_subscriber(
    db: sqlite_utils.Database, chat_id: int, thread_id: int | None, kind: str, title: str | None, now: datetime
) -> tuple[Subscriber, bool]:
    """Create the chat or reactivate it (keeping its settings); return it and whether it is new."""
    with db.conn:
        cur = db.execute(
            "INSERT OR IGNORE INTO subscribers (chat_id, thread_id, kind, title, created_at) VALUES (?, ?, ?, ?, ?)",
            [chat_id, thread_id, kind, title, iso(now)],
        )
        created = bool(cur.rowcount)
        if not created:
            db.execute(
                "UPDATE subscribers SET thread_id = ?, kind = ?, title = ?, active = 1, blocked_reason = NULL WHERE chat_id = ?",
                [thread_id, kind, title, chat_id],
            )
    sub = get_subscriber(db, chat_id)
    assert sub is not None
    return sub, created


def update_subscriber(db: sqlite_utils.Database, chat_id: int, **values: object) -> Subscriber | None:
    """Change some settings (mode, digest_times, timezone, paused, next_digest_at, ...)."""
    stored: dict[str, object] = {}
    for key, value in values.items():
        if key == "digest_times" and isinstance(value, tuple | list):
            value = json.dumps(list(value))
        stored[key] = iso(value) if isinstance(value, datetime) else value
    with db.conn:
        db["subscribers"].update(chat_id, stored)  # type: ignore[union-attr]
    return get_subscriber(db, chat_id)


def delete_subscriber(db: sqlite_utils.Database, chat_id: int) -> bool:
    """Forget the chat, its subscriptions, its watches and its pending deliveries (/stop)."""
    with db.conn:
        remove_chat_watches(db, chat_id)
        return bool(db.execute("DELETE FROM subscribers WHERE chat_id = ?", [chat_id]).rowcount)


def deactivate_subscriber(db: sqlite_utils.Database, chat_id: int, reason: str, now: datetime) -> None:
    """Stop sending to a chat that blocked or removed the bot; its pending deliveries are cancelled."""
    with db.conn:
        db.execute("UPDATE subscribers SET active = 0, blocked_reason = ? WHERE chat_id = ?", [reason, chat_id])
        db.execute(
            "UPDATE deliveries SET status = 'cancelled', last_error = ?, sent_at = ? WHERE chat_id = ? AND status = 'pending'",
            [reason, iso(now), chat_id],
        )


def migrate_chat(db: sqlite_utils.Database, old_id: int, new_id: int) -> None:
    """Move a chat to its new id (a group upgraded to a supergroup); cascades to its rows."""
    with db.conn:
        if db.execute("SELECT 1 FROM subscribers WHERE chat_id = ?", [new_id]).fetchone():
            db.execute("DELETE FROM subscribers WHERE chat_id = ?", [new_id])
        db.execute("UPDATE subscribers SET chat_id = ?, kind = 'supergroup' WHERE chat_id = ?", [new_id, old_id])
        move_chat_watches(db, old_id, new_id)


def topics_of(db: sqlite_utils.Database, chat_id: int) -> list[str]:
    """The topic ids the chat follows, sorted."""
    return [r[0] for r in db.execute("SELECT topic FROM subscriptions WHERE chat_id = ? ORDER BY topic", [chat_id])]


def subscribe(db: sqlite_utils.Database, chat_id: int, topics: Iterable[str]) -> list[str]:
    """Follow these topics; return the ones that were not followed before."""
    added = []
    with db.conn:
        for t in topics:
            if db.execute("INSERT OR IGNORE INTO subscriptions (chat_id, topic) VALUES (?, ?)", [chat_id, t]).rowcount:
                added.append(t)
    return added


def unsubscribe(db: sqlite_utils.Database, chat_id: int, topics: Iterable[str]) -> list[str]:
    """Stop following these topics; return the ones that were followed."""
    removed = []
    with db.conn:
        for t in topics:
            if db.execute("DELETE FROM subscriptions WHERE chat_id = ? AND topic = ?", [chat_id, t]).rowcount:
                removed.append(t)
    return removed


def ensure_console_subscriber(
    db: sqlite_utils.Database, topics: Sequence[str], active: bool, now: datetime, timezone: str = "UTC"
) -> None:
    """The console chat follows every topic while the bot runs without a token, and nothing otherwise;
    it reads times in the config's time zone."""
    with db.conn:
        db.execute(
            "INSERT OR IGNORE INTO subscribers (chat_id, kind, title, created_at) VALUES (?, 'console', 'console', ?)",
            [CONSOLE_CHAT_ID, iso(now)],
        )
        db.execute(
            "UPDATE subscribers SET active = ?, paused = 0, mode = 'instant', timezone = ? WHERE chat_id = ?",
            [int(active), timezone, CONSOLE_CHAT_ID],
        )
        db.execute("DELETE FROM subscriptions WHERE chat_id = ?", [CONSOLE_CHAT_ID])
        if active:
            db.conn.executemany(
                "INSERT INTO subscriptions (chat_id, topic) VALUES (?, ?)", [(CONSOLE_CHAT_ID, t) for t in topics]
            )
        else:
            db.execute("DELETE FROM deliveries WHERE chat_id = ? AND status = 'pending'", [CONSOLE_CHAT_ID])


def due_digest_chats(db: sqlite_utils.Database, now: datetime) -> list[Subscriber]:
    """Digest-mode chats whose next digest time has come."""
    rows = db.query(
        "SELECT * FROM subscribers WHERE mode = 'digest' AND active = 1 AND paused = 0"
        " AND next_digest_at IS NOT NULL AND next_digest_at <= ? ORDER BY next_digest_at",
        [iso(now)],
    )
    return [_subscriber(r) for r in rows]
