"""Personal watches: a chat's own queries, their hits and deliveries, and the change feed the parse
workers follow.

Every write gives the row a new `version` (one more than the highest in the table, inside the
write transaction), and a removal keeps the row, without its name and query, as a tombstone. A parse
worker holding the compiled watches asks for the rows whose version is above the one it holds
(`WatchChanges.changes_since`): an indexed range read that is empty when nothing changed, so new,
changed and removed watches reach the next poll without a restart and without recompiling the rest.

A watch's hits are rows of `hits` whose topic is the watch key ("watch:<id>", bot.models): they join
stories and dedupe exactly like topic hits, and the outbox's UNIQUE(chat_id, story_id) sends a story
once to a chat even when both a followed topic and a watch of the chat hit it. Watch hits are stored
as already reported: they belong to their chat, never to the console or `once --json` output.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlite_utils

from bot.models import Watch, watch_id_of, watch_key
from storage.db import chunks, from_iso, iso
from storage.readonly import ReadConnection


def _watch(row: Sequence[Any]) -> Watch:
    return Watch(int(row[0]), int(row[1]), row[2], row[3], from_iso(row[4]))


WATCH_MARK = "🔎"  # before a watch's name in alerts and digests: never taken for a topic of that name
_COLUMNS = "SELECT id, chat_id, name, query, created_at FROM watches"


def _next_version(db: sqlite_utils.Database) -> int:
    return int(db.execute("SELECT coalesce(max(version), 0) + 1 FROM watches").fetchone()[0])


def add_watch(db: sqlite_utils.Database, chat_id: int, name: str | None, query: str, now: datetime, limit: int) -> Watch | None:
    """Store a new watch for the chat; None when the chat already has `limit` watches."""
    with db.conn:
        count = db.execute("SELECT count(*) FROM watches WHERE chat_id = ? AND removed = 0", [chat_id]).fetchone()[0]
        if count >= limit:
            return None
        cur = db.execute(
            "INSERT INTO watches (chat_id, name, query, created_at, version) VALUES (?, ?, ?, ?, ?)",
            [chat_id, name, query, iso(now), _next_version(db)],
        )
        return Watch(int(cur.lastrowid or 0), chat_id, name, query, now)


def list_watches(db: sqlite_utils.Database, chat_id: int) -> list[Watch]:
    """The chat's watches, oldest first."""
    return [_watch(r) for r in db.execute(f"{_COLUMNS} WHERE chat_id = ? AND removed = 0 ORDER BY id", [chat_id])]


def find_watch(db: sqlite_utils.Database, chat_id: int, ref: str) -> Watch | None:
    """The chat's watch with this id (digits, '#12' too) or name (any case); only the chat's own."""
    ref = ref.strip()
    number = ref.removeprefix("#")
    if number.isdigit():
        row = db.execute(f"{_COLUMNS} WHERE id = ? AND chat_id = ? AND removed = 0", [int(number), chat_id]).fetchone()
        if row:
            return _watch(row)
    row = db.execute(
        f"{_COLUMNS} WHERE chat_id = ? AND removed = 0 AND name = ? COLLATE NOCASE ORDER BY id LIMIT 1", [chat_id, ref]
    ).fetchone()
    return _watch(row) if row else None


def _tombstone(db: sqlite_utils.Database, chat_id: int, watch_ids: Sequence[int]) -> None:
    """Remove watches: their pending deliveries and hits go, the rows stay as versioned tombstones."""
    for watch_id in watch_ids:
        key = watch_key(watch_id)
        db.execute("DELETE FROM deliveries WHERE chat_id = ? AND status = 'pending' AND topic = ?", [chat_id, key])
        db.execute("DELETE FROM hits WHERE topic = ?", [key])
        db.execute(
            "UPDATE watches SET removed = 1, name = NULL, query = '', version = ? WHERE id = ?",
            [_next_version(db), watch_id],
        )


def remove_watch(db: sqlite_utils.Database, chat_id: int, watch_id: int) -> bool:
    """Remove one of the chat's watches; False when the chat has no such watch."""
    with db.conn:
        row = db.execute("SELECT 1 FROM watches WHERE id = ? AND chat_id = ? AND removed = 0", [watch_id, chat_id]).fetchone()
        if not row:
            return False
        _tombstone(db, chat_id, [watch_id])
        return True


def remove_chat_watches(db: sqlite_utils.Database, chat_id: int) -> int:
    """Remove every watch of the chat (/stop); return how many there were."""
    with db.conn:
        ids = [int(r[0]) for r in db.execute("SELECT id FROM watches WHERE chat_id = ? AND removed = 0", [chat_id])]
        _tombstone(db, chat_id, ids)
        return len(ids)


def move_chat_watches(db: sqlite_utils.Database, old_id: int, new_id: int) -> None:
    """A group became a supergroup: its watches follow it (call inside the move's transaction)."""
    db.execute("UPDATE watches SET chat_id = ? WHERE chat_id = ? AND removed = 0", [new_id, old_id])


def watch_story_counts(db: sqlite_utils.Database, watch_ids: Sequence[int], since: datetime) -> dict[int, int]:
    """Watch id -> stories it matched since `since`."""
    out = {w: 0 for w in watch_ids}
    for chunk in chunks([watch_key(w) for w in watch_ids]):
        marks = ",".join("?" * len(chunk))
        rows = db.execute(
            f"SELECT topic, count(*) FROM hits WHERE topic IN ({marks}) AND created_at >= ? GROUP BY topic",
            [*chunk, iso(since)],
        )
        for key, n in rows:
            watch_id = watch_id_of(key)
            if watch_id is not None:
                out[watch_id] = int(n)
    return out


def watch_hits(db: sqlite_utils.Database, watch_id: int, since: datetime) -> list[tuple[int, datetime | None]]:
    """(story id, when matched) of the watch's hits since `since`, oldest first."""
    rows = db.execute(
        "SELECT story_id, created_at FROM hits WHERE topic = ? AND created_at >= ? ORDER BY created_at, id",
        [watch_key(watch_id), iso(since)],
    )
    return [(int(r[0]), from_iso(r[1])) for r in rows]


def watch_totals(db: sqlite_utils.Database) -> tuple[int, int]:
    """(watches, chats that have any) for /stats."""
    row = db.execute("SELECT count(*), count(DISTINCT chat_id) FROM watches WHERE removed = 0").fetchone()
    return int(row[0]), int(row[1])


def watch_labels(db: sqlite_utils.Database, keys: Sequence[str]) -> dict[str, str]:
    """Watch key -> how the watch is shown (its name, else its query), for the keys that are watches."""
    ids = sorted({w for w in (watch_id_of(k) for k in keys) if w is not None})
    out: dict[str, str] = {}
    for chunk in chunks(ids):
        marks = ",".join("?" * len(chunk))
        for row in db.execute(f"{_COLUMNS} WHERE id IN ({marks})", list(chunk)):
            w = _watch(row)
            out[watch_key(w.id)] = f"{WATCH_MARK} {w.label or 'removed watch'}"
    return out


def record_watch_hit(
    db: sqlite_utils.Database, story_id: int, key: str, item_id: int, terms: Sequence[str], now: str, send: bool
) -> bool:
    """Store a watch's hit on a story (once per story) and queue the story for the watch's chat unless
    `send` is False; False when the watch is gone or already hit the story. Call inside the poll's
    transaction."""
    watch_id = watch_id_of(key)
    row = db.execute("SELECT chat_id FROM watches WHERE id = ? AND removed = 0", [watch_id]).fetchone()
    if row is None:
        return False  # removed after a worker matched it
    cur = db.execute(
        "INSERT OR IGNORE INTO hits (story_id, topic, item_id, matched, created_at, reported_at) VALUES (?, ?, ?, ?, ?, ?)",
        [story_id, key, item_id, json.dumps(list(terms), ensure_ascii=False), now, now],
    )
    if not cur.rowcount:
        return False
    if send:
        db.execute(
            "INSERT OR IGNORE INTO deliveries (chat_id, story_id, topic, kind, status, created_at, next_attempt_at)"
            " SELECT s.chat_id, ?, ?, CASE s.mode WHEN 'digest' THEN 'digest' ELSE 'alert' END, 'pending', ?, ?"
            " FROM subscribers s WHERE s.chat_id = ? AND s.active = 1 AND s.paused = 0",
            [story_id, key, now, now, int(row[0])],
        )
    return True


class WatchChanges(ReadConnection):
    """The watches table as a change feed for parse workers (`ReadConnection`: picklable)."""

    def changes_since(self, version: int) -> tuple[int, list[tuple[int, str | None]]]:
        """(newest version, [(watch id, query or None when removed)]) of the rows written after `version`."""
        rows = self.read("SELECT id, query, removed, version FROM watches WHERE version > ? ORDER BY version", [version])
        if not rows:
            return version, []
        return int(rows[-1][3]), [(int(r[0]), None if r[2] else str(r[1])) for r in rows]
