"""Reads for trend charts, surge checks and the /stats chart.

A topic's stories are read through hits(topic, story_id), one row per story however many items it has,
so counts here are stories, never items. Hourly totals for /stats are grouped by UTC hour in SQL
(at most 24 rows a day whatever the volume) and folded into local days by the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlite_utils

from storage.db import from_iso, hour_of, iso


@dataclass(frozen=True)
class StoryRow:
    """A story of a topic, with what counting and captions need."""

    story_id: int
    first_seen_at: datetime
    published_at: datetime | None
    n_feeds: int
    title: str
    url: str | None


def topic_stories(db: sqlite_utils.Database, topics: Sequence[str], since: datetime) -> list[StoryRow]:
    """Stories first seen since `since` that matched any of `topics` (each story once)."""
    if not topics:
        return []
    marks = ",".join("?" * len(topics))
    # Every story seen since `since` has an id at least the smallest such id: with that bound the
    # hits(topic, story_id) index is read as a range, not over the topic's whole history.
    rows = db.execute(
        "SELECT DISTINCT s.id, s.first_seen_at, s.published_at, s.n_feeds, s.title, s.url"
        " FROM hits h JOIN stories s ON s.id = h.story_id"
        f" WHERE h.topic IN ({marks}) AND h.story_id >= (SELECT min(id) FROM stories WHERE first_seen_at >= ?)"
        " AND s.first_seen_at >= ? ORDER BY s.id",
        [*topics, iso(since), iso(since)],
    ).fetchall()
    return [StoryRow(int(r[0]), from_iso(r[1]) or since, from_iso(r[2]), int(r[3]), r[4], r[5]) for r in rows]


def history_start(db: sqlite_utils.Database) -> datetime | None:
    """When the first stored item was fetched: nothing is known about volume before it."""
    row = db.execute("SELECT min(fetched_at) FROM items").fetchone()
    return from_iso(row[0]) if row else None


def _hourly(db: sqlite_utils.Database, sql: str, since: datetime) -> dict[str, int]:
    return {hour: int(n) for hour, n in db.execute(sql, [iso(since)])}


@dataclass(frozen=True)
class HourlyTotals:
    """Per UTC hour ("2024-10-21T09"): items fetched, hits created, distinct feeds that failed."""

    items: dict[str, int]
    hits: dict[str, int]
    failing: dict[str, set[int]]


def hourly_totals(db: sqlite_utils.Database, since: datetime) -> HourlyTotals:
    """Items, hits and failing feeds per UTC hour since `since`."""
    items = _hourly(db, "SELECT substr(fetched_at, 1, 13) h, count(*) FROM items WHERE fetched_at >= ? GROUP BY h", since)
    hits = _hourly(db, "SELECT substr(created_at, 1, 13) h, count(*) FROM hits WHERE created_at >= ? GROUP BY h", since)
    failing: dict[str, set[int]] = {}
    for hour, feed_id in db.execute("SELECT hour, feed_id FROM feed_failures WHERE hour >= ?", [hour_of(since)]):
        failing.setdefault(hour, set()).add(int(feed_id))
    return HourlyTotals(items, hits, failing)


def prune_feed_failures(db: sqlite_utils.Database, before: datetime) -> int:
    """Forget failure hours older than `before` (the chart shows 30 days)."""
    with db.conn:
        return db.execute("DELETE FROM feed_failures WHERE hour < ?", [hour_of(before)]).rowcount


def hour_start(hour: str) -> datetime:
    """A stored UTC hour key back to an aware datetime."""
    start = from_iso(hour + ":00:00+00:00")
    assert start is not None
    return start
