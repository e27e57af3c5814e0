"""Claim hits for reporting: each hit is shown once, however many processes report at the same time.

A hit is claimed by the statement that marks it reported (`UPDATE ... WHERE reported_at IS NULL ...
RETURNING`), inside one write transaction that also hands the claimed hits to the caller's `show`
(print and flush) before it commits. A second process waits for the write lock and then finds them
reported; a crash before the commit leaves them unreported, so they are shown again rather than
never. `show` runs while the write lock is held: it should only write out and flush.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime

import sqlite_utils

from bot.models import Hit
from storage.db import chunks, from_iso, iso

Show = Callable[[list[Hit]], None]

HIT_COLUMNS = (
    "SELECT hits.id, hits.topic, hits.story_id, hits.matched, items.title, items.url, items.published_at,"
    " feeds.name AS feed FROM hits JOIN items ON items.id = hits.item_id JOIN feeds ON feeds.id = items.feed_id"
)


def claim_hits(
    db: sqlite_utils.Database,
    now: datetime,
    show: Show | None = None,
    hit_ids: Sequence[int] | None = None,
    limit: int = 10_000,
) -> list[Hit]:
    """Mark reported the unreported hits (these `hit_ids`, or the oldest `limit`), show them, commit;
    return the hits this call claimed, oldest first (none that another process had claimed)."""
    with db.conn:  # one write transaction (storage.db.TransactionConnection)
        if hit_ids is None:
            claimed = _claim_oldest(db, iso(now) or "", limit)
        else:
            claimed = [hid for chunk in chunks(list(hit_ids)) for hid in _claim_ids(db, iso(now) or "", chunk)]
        hits = _load(db, sorted(claimed))
        if show is not None and hits:
            show(hits)
    return hits


def _claim_oldest(db: sqlite_utils.Database, now: str, limit: int) -> list[int]:
    rows = db.conn.execute(
        "UPDATE hits SET reported_at = ? WHERE id IN"
        " (SELECT id FROM hits WHERE reported_at IS NULL ORDER BY id LIMIT ?) AND reported_at IS NULL RETURNING id",
        [now, limit],
    )
    return [int(r[0]) for r in rows.fetchall()]


def _claim_ids(db: sqlite_utils.Database, now: str, ids: Sequence[int]) -> list[int]:
    marks = ",".join("?" * len(ids))
    rows = db.conn.execute(
        f"UPDATE hits SET reported_at = ? WHERE reported_at IS NULL AND id IN ({marks}) RETURNING id", [now, *ids]
    )
    return [int(r[0]) for r in rows.fetchall()]


def _load(db: sqlite_utils.Database, ids: Sequence[int]) -> list[Hit]:
    hits: list[Hit] = []
    for chunk in chunks(ids):
        marks = ",".join("?" * len(chunk))
        rows = db.conn.execute(f"{HIT_COLUMNS} WHERE hits.id IN ({marks}) ORDER BY hits.id", list(chunk))
        hits.extend(
            Hit(hid, topic, feed, title, url, from_iso(published), story, tuple(json.loads(matched)))
            for hid, topic, story, matched, title, url, published, feed in rows.fetchall()
        )
    return hits
