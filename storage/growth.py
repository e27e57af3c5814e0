"""Alerts that grow with their story: which sent alerts name fewer outlets than their story now has.

An alert records, when sent, how many outlets it named (deliveries.shown_feeds). When later items bring
the story more outlets, the alert is due for an edit once `gap` has passed since it was sent or last
edited, so a message changes at most once per gap however fast its story grows. Only alerts sent
within `window` are edited; a message that can no longer be edited stops being tried, and a failed
edit waits another gap.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import sqlite_utils

from storage.db import iso


def grown_alerts(
    db: sqlite_utils.Database, now: datetime, gap: timedelta, window: timedelta, limit: int = 500
) -> list[tuple[int, int]]:
    """(delivery id, message id) of the sent alerts whose story has more outlets than they show and
    whose gap has passed."""
    rows = db.execute(
        "SELECT d.id, d.message_ids FROM deliveries d JOIN stories st ON st.id = d.story_id JOIN subscribers s ON s.chat_id = d.chat_id"
        " WHERE d.shown_as = 'alert' AND d.sent_at >= ? AND st.n_feeds > coalesce(d.shown_feeds, 1)"
        " AND coalesce(d.edited_at, d.sent_at) <= ? AND s.active = 1 ORDER BY d.sent_at LIMIT ?",
        [iso(now - window), iso(now - gap), limit],
    )
    out = []
    for delivery_id, message_ids in rows:
        ids = json.loads(message_ids or "[]")
        if ids:
            out.append((int(delivery_id), int(ids[0])))
    return out


def mark_edited(db: sqlite_utils.Database, delivery_id: int, shown_feeds: int, now: datetime) -> None:
    """The alert now shows `shown_feeds` outlets."""
    with db.conn:
        db.execute("UPDATE deliveries SET shown_feeds = ?, edited_at = ? WHERE id = ?", [shown_feeds, iso(now), delivery_id])


def postpone_edit(db: sqlite_utils.Database, delivery_id: int, now: datetime) -> None:
    """An edit failed: try again one gap from now."""
    with db.conn:
        db.execute("UPDATE deliveries SET edited_at = ? WHERE id = ?", [iso(now), delivery_id])


def stop_growing(db: sqlite_utils.Database, delivery_id: int, now: datetime) -> None:
    """The alert's message can no longer be edited (deleted, or too old for Telegram): leave it as it is."""
    with db.conn:
        db.execute("UPDATE deliveries SET shown_as = 'alert-frozen', edited_at = ? WHERE id = ?", [iso(now), delivery_id])
