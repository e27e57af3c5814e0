"""Items, stories and hits, written in one transaction per poll.

An item is stored before anything is reported about it, and in the same transaction as its hits and
the feed's new validators (ETag, Last-Modified) and the outbox rows for the chats following each
hit's topic: a crash before the commit leaves the feed as if it
had not been polled (the next poll fetches it again), a crash after it leaves the hits unreported
(`reported_at` is NULL) for the next run to report. Nothing is kept in memory between polls.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import sqlite_utils

from bot.models import Hit, Item, Match
from bot.stories import canonical_url
from storage.db import chunks, from_iso, iso
from storage.outbox import enqueue_story


@dataclass(frozen=True)
class PollUpdate:
    """Feed state to store with a successful poll."""

    status: int
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    next_poll_at: datetime
    url: str | None = None  # new URL after a permanent redirect
    note: str | None = None  # a parse problem that still let items through


def filter_new_items(db: sqlite_utils.Database, feed_id: int, items: Sequence[Item]) -> list[Item]:
    """The items whose key this feed has not stored yet (first of any duplicate keys in the batch)."""
    seen: set[str] = set()
    unique = []
    for it in items:
        if it.key not in seen:
            seen.add(it.key)
            unique.append(it)
    stored: set[str] = set()
    keys = [it.key for it in unique]
    for chunk in chunks(keys):
        marks = ",".join("?" * len(chunk))
        stored.update(
            r[0] for r in db.execute(f"SELECT key FROM items WHERE feed_id = ? AND key IN ({marks})", [feed_id, *chunk])
        )
    return [it for it in unique if it.key not in stored]


def _find_story(db: sqlite_utils.Database, canonical: str | None) -> int | None:
    if canonical is None:
        return None
    row = db.execute("SELECT story_id FROM items WHERE canonical_url = ? LIMIT 1", [canonical]).fetchone()
    return int(row[0]) if row else None


class Clusterer(Protocol):
    """Chooses an existing story for an item (the rules live in bot.stories)."""

    window: timedelta

    def signature(self, item: Item) -> str:
        """The item's stored signature."""
        ...

    def choose(self, signature: str, candidates: list[tuple[int, str | None]]) -> int | None:
        """A candidate story id for the item, or None for a new story."""
        ...


def _recent_topic_stories(db: sqlite_utils.Database, topics: Sequence[str], since: str) -> list[tuple[int, str | None]]:
    marks = ",".join("?" * len(topics))
    rows = db.execute(
        f"SELECT DISTINCT s.id, s.signature FROM stories s JOIN hits h ON h.story_id = s.id"
        f" WHERE h.topic IN ({marks}) AND s.first_seen_at >= ?",
        [*topics, since],
    )
    return [(int(r[0]), r[1]) for r in rows]


def _attach(db: sqlite_utils.Database, story_id: int, feed_id: int, now: str) -> None:
    same_feed = db.execute("SELECT 1 FROM items WHERE story_id = ? AND feed_id = ? LIMIT 1", [story_id, feed_id]).fetchone()
    db.execute(
        "UPDATE stories SET n_items = n_items + 1, n_feeds = n_feeds + ?, last_seen_at = ? WHERE id = ?",
        [0 if same_feed else 1, now, story_id],
    )


def save_poll(
    db: sqlite_utils.Database,
    feed_id: int,
    update: PollUpdate,
    entries: Sequence[tuple[Item, Sequence[Match], int | None]],
    now: datetime,
    clusterer: Clusterer | None = None,
    send_since: datetime | None = None,
) -> list[Hit]:
    """Store new items (each with its matches and an optional story id chosen by clustering), their
    stories and hits, and the feed's state, atomically. Return the hits that are new.

    With a clusterer, an item that matched topics and has no story by URL joins the story the
    clusterer chooses among the stories of the last 48 hours with a hit on one of its topics.

    A new hit is queued for delivery in the same transaction, unless the item says it was published
    before `send_since` (a feed's backlog, or a republished archive): that one is kept, not sent."""
    now_s = iso(now) or ""
    feed_name = db.execute("SELECT name FROM feeds WHERE id = ?", [feed_id]).fetchone()[0]
    hits: list[Hit] = []
    with db.conn:
        for item, matches, clustered_story in entries:
            canonical = canonical_url(item.url)
            story_id = _find_story(db, canonical) or clustered_story
            sig = clusterer.signature(item) if clusterer and matches else None
            if story_id is None and clusterer is not None and matches:
                since = iso(now - clusterer.window)
                story_id = clusterer.choose(sig or "", _recent_topic_stories(db, [m.topic for m in matches], since or ""))
            if story_id is None:
                cur = db.execute(
                    "INSERT INTO stories (title, url, canonical_url, first_seen_at, last_seen_at, published_at, n_items, n_feeds, signature)"
                    " VALUES (?, ?, ?, ?, ?, ?, 1, 1, ?)",
                    [item.title, item.url, canonical, now_s, now_s, iso(item.published_at), sig],
                )
                story_id = int(cur.lastrowid or 0)
            else:
                _attach(db, story_id, feed_id, now_s)
            cur = db.execute(
                "INSERT OR IGNORE INTO items (feed_id, key, url, canonical_url, title, text, published_at, fetched_at, story_id, extra)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    feed_id,
                    item.key,
                    item.url,
                    canonical,
                    item.title,
                    item.text,
                    iso(item.published_at),
                    now_s,
                    story_id,
                    json.dumps(item.extra, ensure_ascii=False, default=str) if item.extra else None,
                ],
            )
            if not cur.rowcount:
                continue
            item_id = int(cur.lastrowid or 0)
            for m in matches:
                cur = db.execute(
                    "INSERT OR IGNORE INTO hits (story_id, topic, item_id, matched, created_at) VALUES (?, ?, ?, ?, ?)",
                    [story_id, m.topic, item_id, json.dumps(list(m.terms), ensure_ascii=False), now_s],
                )
                if cur.rowcount:
                    if send_since is None or item.published_at is None or item.published_at >= send_since:
                        enqueue_story(db, story_id, m.topic, now_s)
                    hits.append(
                        Hit(
                            int(cur.lastrowid or 0),
                            m.topic,
                            feed_name,
                            item.title,
                            item.url,
                            item.published_at,
                            story_id,
                            m.terms,
                        )
                    )
        _store_update(db, feed_id, update, now_s, bool(entries))
    return hits


def _store_update(db: sqlite_utils.Database, feed_id: int, u: PollUpdate, now: str, has_new: bool) -> None:
    values: dict[str, object] = {
        "etag": u.etag,
        "last_modified": u.last_modified,
        "body_hash": u.body_hash,
        "last_status": u.status,
        "last_polled_at": now,
        "last_ok_at": now,
        "error_count": 0,
        "failing_since": None,
        "last_error": None,
        "next_poll_at": iso(u.next_poll_at),
        "note": u.note,
    }
    if u.url:
        values["url"] = u.url
    if has_new:
        values["last_new_item_at"] = now
    db["feeds"].update(feed_id, values)  # type: ignore[union-attr]


def unreported_hits(db: sqlite_utils.Database, limit: int = 10_000) -> list[Hit]:
    """Hits not reported yet, oldest first."""
    rows = db.query(
        "SELECT hits.id, hits.topic, hits.story_id, hits.matched, items.title, items.url, items.published_at,"
        " feeds.name AS feed FROM hits JOIN items ON items.id = hits.item_id JOIN feeds ON feeds.id = items.feed_id"
        " WHERE hits.reported_at IS NULL ORDER BY hits.id LIMIT ?",
        [limit],
    )
    return [
        Hit(
            r["id"],
            r["topic"],
            r["feed"],
            r["title"],
            r["url"],
            from_iso(r["published_at"]),
            r["story_id"],
            tuple(json.loads(r["matched"])),
        )
        for r in rows
    ]


def mark_reported(db: sqlite_utils.Database, hit_ids: Sequence[int], now: datetime) -> None:
    """Record that these hits were shown (printed, or handed to the outbox)."""
    with db.conn:
        db.conn.executemany("UPDATE hits SET reported_at = ? WHERE id = ?", [(iso(now), i) for i in hit_ids])


def newest_post_number(db: sqlite_utils.Database, feed_id: int) -> int | None:
    """The highest post number stored for a channel feed (keys like 'channel/123'), or None."""
    row = db.execute(
        "SELECT max(CAST(substr(key, instr(key, '/') + 1) AS INTEGER)) FROM items WHERE feed_id = ?", [feed_id]
    ).fetchone()
    return int(row[0]) if row and row[0] is not None else None


def count_rows(db: sqlite_utils.Database, table: str) -> int:
    """Number of rows in a table."""
    return int(db.execute(f"SELECT count(*) FROM [{table}]").fetchone()[0])


def table_counts(db: sqlite_utils.Database) -> dict[str, int]:
    """Row counts for /stats: items, stories, hits, and subscribers active and not (the console chat aside)."""
    counts = {t: count_rows(db, t) for t in ("items", "stories", "hits")}
    for active, n in db.execute("SELECT active, count(*) FROM subscribers WHERE chat_id != 0 GROUP BY active"):
        counts["subscribers_active" if active else "subscribers_inactive"] = int(n)
    return counts


def recent_items(db: sqlite_utils.Database, limit: int) -> list[tuple[str, str, str | None, str, datetime | None]]:
    """The newest stored items: (title, text, url, feed name, when fetched), newest first."""
    rows = db.execute(
        "SELECT items.title, items.text, items.url, feeds.name, items.fetched_at FROM items"
        " JOIN feeds ON feeds.id = items.feed_id ORDER BY items.id DESC LIMIT ?",
        [limit],
    )
    return [(title, text, url, feed, from_iso(fetched)) for title, text, url, feed, fetched in rows]


def feed_item_count(db: sqlite_utils.Database, feed_id: int) -> int:
    """How many items of one feed are stored."""
    return int(db.execute("SELECT count(*) FROM items WHERE feed_id = ?", [feed_id]).fetchone()[0])
