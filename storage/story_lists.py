"""Story lists: the stories behind a "+N more" button or a /latest page, kept so that the button still
works after a restart (its callback data carries only the list's id and a page number).

A list belongs to one chat and holds story ids in the order its message would have shown them; a page
is a slice of it, so every story of the list is on exactly one page. Lists older than KEEP_DAYS are
deleted when a new one is made.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlite_utils

from bot.models import StoryView
from storage.db import chunks, from_iso, iso
from storage.outbox import story_sources

KEEP_DAYS = 30


@dataclass(frozen=True)
class StoryList:
    """A stored list of stories for one chat."""

    id: int
    chat_id: int
    origin: str  # "digest" | "burst" | "latest"
    title: str  # the topic or watch name
    story_ids: tuple[int, ...]
    shown_before: int  # stories of the same list its message showed before these
    total: int
    created_at: datetime


def create_story_list(
    db: sqlite_utils.Database,
    chat_id: int,
    origin: str,
    title: str,
    story_ids: Sequence[int],
    shown_before: int,
    total: int,
    now: datetime,
) -> int:
    """Keep a list (and forget lists older than KEEP_DAYS); return its id."""
    with db.conn:
        db.execute("DELETE FROM story_lists WHERE created_at < ?", [iso(now - timedelta(days=KEEP_DAYS))])
        cur = db.execute(
            "INSERT INTO story_lists (chat_id, origin, title, story_ids, shown_before, total, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [chat_id, origin, title, json.dumps(list(story_ids)), shown_before, total, iso(now)],
        )
    return int(cur.lastrowid or 0)


def get_story_list(db: sqlite_utils.Database, list_id: int) -> StoryList | None:
    """The list, or None when it never existed or was forgotten."""
    row = db.execute(
        "SELECT id, chat_id, origin, title, story_ids, shown_before, total, created_at FROM story_lists WHERE id = ?",
        [list_id],
    ).fetchone()
    if row is None:
        return None
    created = from_iso(row[7])
    assert created is not None
    return StoryList(int(row[0]), int(row[1]), row[2], row[3], tuple(json.loads(row[4])), int(row[5]), int(row[6]), created)


def story_views(db: sqlite_utils.Database, story_ids: Sequence[int]) -> list[StoryView]:
    """The stories as lists show them, in the order given (stories no longer stored are left out)."""
    rows: dict[int, tuple[object, ...]] = {}
    for chunk in chunks(list(story_ids)):
        marks = ",".join("?" * len(chunk))
        for r in db.execute(
            f"SELECT id, title, url, published_at, first_seen_at, n_feeds FROM stories WHERE id IN ({marks})", list(chunk)
        ):
            rows[int(r[0])] = tuple(r)
    sources = story_sources(db, sorted(rows))
    views = []
    for story_id in story_ids:
        r = rows.get(story_id)
        if r is None:
            continue
        names = sources.get(story_id) or ["?"]
        views.append(
            StoryView(
                story_id=story_id,
                title=str(r[1]),
                url=r[2] if isinstance(r[2], str) else None,
                feed=names[0],
                published_at=from_iso(r[3] if isinstance(r[3], str) else None),
                first_seen_at=from_iso(r[4] if isinstance(r[4], str) else None),
                n_feeds=max(int(r[5]) if isinstance(r[5], int) else 1, len(names)),
                also=tuple(names[1:]),
            )
        )
    return views


def latest_story_ids(db: sqlite_utils.Database, topic: str, limit: int) -> list[int]:
    """The stories a topic matched, the most recently seen first."""
    rows = db.execute(
        "SELECT s.id FROM hits h JOIN stories s ON s.id = h.story_id WHERE h.topic = ?"
        " ORDER BY s.first_seen_at DESC, s.id DESC LIMIT ?",
        [topic, limit],
    )
    return [int(r[0]) for r in rows]
