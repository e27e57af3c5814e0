"""Items, stories and hits, written in one transaction per poll.

An item is stored before anything is reported about it, and in the same transaction as its hits and
the feed's new validators (ETag, Last-Modified) and the outbox rows for the chats following each
hit's topic: a crash before the commit leaves the feed as if it
had not been polled (the next poll fetches it again), a crash after it leaves the hits unreported
(`reported_at` is NULL) for the next run to report. Nothing is kept in memory between polls.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlite_utils

from bot.models import Hit, Item, Match, watch_id_of
from bot.stories import text_digest
from storage.db import chunks, from_iso, iso
from storage.feeds import update_feed
from storage.outbox import enqueue_story
from storage.stories import (
    Clusterer,
    DocumentFrequencies,
    StoryFinder,
    attach_item,
    create_story,
    find_story,
    recent_across,
    recent_candidates,
    stored_url,
)
from storage.watches import record_watch_hit


@dataclass(frozen=True)
class PollUpdate:
    """Feed state to store with a successful poll."""

    status: int
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    next_poll_at: datetime | None  # None: the poll's process does not own the schedule; the next poll stays
    url: str | None = None  # new URL after a permanent redirect
    note: str | None = None  # a parse problem that still let items through
    item_digests: str | None = None  # of the body's item elements (bot.sources.fastrss), None when not read so


KNOWN_ITEMS = 500  # a feed's newest stored items whose parsing a changed body can skip


def known_items(db: sqlite_utils.Database, feed_id: int, limit: int = KNOWN_ITEMS) -> dict[str, str]:
    """Key -> text digest of the feed's newest stored items (index items_feed_recent): the parse
    workers leave out the items of a changed body that are stored unchanged."""
    rows = db.conn.execute(
        "SELECT key, title, text FROM items WHERE feed_id = ? ORDER BY id DESC LIMIT ?", [feed_id, limit]
    ).fetchall()
    return {key: text_digest(title, text) for key, title, text in rows}


def store_parsed(
    db: sqlite_utils.Database,
    feed_id: int,
    items: Sequence[Item],
    matches: Mapping[str, Sequence[Match]],
    terms: Mapping[str, tuple[str, str, str]],
    update: PollUpdate,
    now: datetime,
    clusterer: Clusterer | None = None,
    send_since: datetime | None = None,
) -> tuple[int, list[Hit]]:
    """Sort a poll's items into new and changed ones and store them (`save_poll`), in one transaction,
    with what the workers found: each item's matches and (clustering terms, language, anchors) by key.
    Return (number of new items, new hits)."""
    with db.conn:
        new, changed = sort_items(db, feed_id, items)
        entries = [NewItem(it, matches.get(it.key, ()), *terms.get(it.key, ("", "", ""))) for it in new]
        entries += [NewItem(it, matches.get(it.key, ()), *terms.get(it.key, ("", "", "")), changed=True) for it in changed]
        return len(new), save_poll(db, feed_id, update, entries, now, clusterer, send_since)


def filter_new_items(db: sqlite_utils.Database, feed_id: int, items: Sequence[Item]) -> list[Item]:
    """The items whose key this feed has not stored yet (first of any duplicate keys in the batch)."""
    return sort_items(db, feed_id, items)[0]


def sort_items(db: sqlite_utils.Database, feed_id: int, items: Sequence[Item]) -> tuple[list[Item], list[Item]]:
    """(items this feed has not stored, stored items whose title or text has changed since)."""
    unique = list({it.key: it for it in reversed(items)}.values())[::-1]
    stored: dict[str, tuple[str, str]] = {}
    keys = [it.key for it in unique] + [it.alias for it in unique if it.alias]
    for chunk in chunks(keys):
        marks = ",".join("?" * len(chunk))
        rows = db.execute(f"SELECT key, title, text FROM items WHERE feed_id = ? AND key IN ({marks})", [feed_id, *chunk])
        stored.update((r[0], (r[1], r[2])) for r in rows)
    new: list[Item] = []
    changed: list[Item] = []
    for it in unique:
        row = stored.get(it.key)
        if row is not None and row[0] == it.title:
            if row[1] != it.text:
                changed.append(it)
        elif it.alias in stored and stored[it.alias][0] == it.title:
            continue  # stored under its other key (before its feed began, or stopped, sharing one link)
        elif row is not None:
            changed.append(it)
        else:
            new.append(it)
    return new, changed


@dataclass(frozen=True)
class NewItem:
    """An item to store with what the workers found: its topics, clustering terms and language."""

    item: Item
    matches: Sequence[Match] = ()
    terms: str = ""  # bot.clustering.encode_terms
    lang: str = ""
    anchors: str = ""  # bot.crosslang.encode_anchors: numbers and names, for stories in other languages
    changed: bool = False  # stored before; its title or text is new


def _cluster(
    db: sqlite_utils.Database, clusterer: Clusterer, df: DocumentFrequencies, feed_id: int, entry: NewItem, now: datetime
) -> int | None:
    """The recent story of the entry's topics that its terms say it reports, if any; else the one in
    another language whose anchors (numbers, names) say so."""
    terms = clusterer.decode(entry.terms)
    topics = [m.topic for m in entry.matches]
    candidates = recent_candidates(db, clusterer, topics, now - clusterer.window, entry.lang, feed_id)
    chosen = None
    if candidates and terms:
        df.load(terms)  # the candidates' terms are read as they are weighed (most were read before)
        chosen = clusterer.choose(terms, now, candidates, df.idf, topics)
    if chosen is None and entry.anchors and entry.lang:
        others = recent_across(db, topics, now - clusterer.window, entry.lang)
        chosen = clusterer.choose_across(entry.anchors, now, others, topics) if others else None
    return chosen


_INSERT_ITEM = (
    "INSERT OR IGNORE INTO items (feed_id, key, url, canonical_url, title, text, published_at, fetched_at, story_id, extra)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _item_row(feed_id: int, item: Item, story_id: int | None, now: str) -> tuple[object, ...]:
    extra = json.dumps(item.extra, ensure_ascii=False, default=str) if item.extra else None
    return (feed_id, item.key, item.url, stored_url(item), item.title, item.text, iso(item.published_at), now, story_id, extra)


def _insert_item(db: sqlite_utils.Database, feed_id: int, item: Item, story_id: int | None, now: str) -> int | None:
    cur = db.conn.execute(_INSERT_ITEM, _item_row(feed_id, item, story_id, now))
    return int(cur.lastrowid or 0) if cur.rowcount else None


def _insert_plain(db: sqlite_utils.Database, rows: list[tuple[object, ...]]) -> None:
    """Write items that matched nothing and report no stored story, in one statement (and empty `rows`)."""
    if rows:
        db.conn.executemany(_INSERT_ITEM, rows)
        rows.clear()


def _store_entry(
    db: sqlite_utils.Database,
    feed_id: int,
    entry: NewItem,
    now: datetime,
    clusterer: Clusterer | None,
    df: DocumentFrequencies | None,
    story_id: int | None,
) -> tuple[int, int | None] | None:
    """Write one new item into its story (`story_id`: a stored copy's, found before); (item id, story
    id), or None when another process stored it first. An item that matched nothing and reports no
    stored story opens none (story id None)."""
    now_s = iso(now) or ""
    item = entry.item
    if story_id is None and clusterer is not None and df is not None and entry.matches:
        story_id = _cluster(db, clusterer, df, feed_id, entry, now)
    created = story_id is None and bool(entry.matches)
    if created:
        story_id = create_story(db, item, stored_url(item), now_s, entry.terms, entry.lang, entry.anchors)
    item_id = _insert_item(db, feed_id, item, story_id, now_s)
    if item_id is None:
        if created:
            db.execute("DELETE FROM stories WHERE id = ?", [story_id])
        return None
    if story_id is not None and not created:
        terms = clusterer.decode(entry.terms) if clusterer else {}
        attach_item(db, terms, story_id, feed_id, item_id, now_s, clusterer, entry.anchors)
    return item_id, story_id


def _restore_changed(
    db: sqlite_utils.Database,
    feed_id: int,
    entry: NewItem,
    now: datetime,
    clusterer: Clusterer | None,
    df: DocumentFrequencies | None,
) -> tuple[int, int | None] | None:
    """Keep a stored item's new title and text; an item that had no topic before may join a story now."""
    item = entry.item
    row = db.execute("SELECT id, story_id FROM items WHERE feed_id = ? AND key = ?", [feed_id, item.key]).fetchone()
    if row is None:
        return None
    item_id, story_id = int(row[0]), row[1]
    db.execute("UPDATE items SET title = ?, text = ? WHERE id = ?", [item.title, item.text, item_id])
    if not entry.matches:
        return item_id, story_id
    if story_id is None:  # it matched nothing before: its story is found (a stored copy's first) or opened now
        better = find_story(db, item)
        if better is None and clusterer is not None and df is not None:
            better = _cluster(db, clusterer, df, feed_id, entry, now)
        if better is None:
            better = create_story(db, item, stored_url(item), iso(now) or "", entry.terms, entry.lang, entry.anchors)
        else:
            terms = clusterer.decode(entry.terms) if clusterer else {}
            attach_item(db, terms, better, feed_id, item_id, iso(now) or "", clusterer, entry.anchors)
        db.execute("UPDATE items SET story_id = ? WHERE id = ?", [better, item_id])
        return item_id, better
    alone = db.execute(
        "SELECT n_items = 1 AND NOT EXISTS(SELECT 1 FROM hits WHERE story_id = s.id) FROM stories s WHERE id = ?", [story_id]
    ).fetchone()
    if clusterer is not None and df is not None and alone and alone[0]:
        db.execute(
            "UPDATE stories SET title = ?, signature = ?, lang = ?, anchors = ? WHERE id = ?",
            [item.title, entry.terms, entry.lang, entry.anchors or None, story_id],
        )
        better = _cluster(db, clusterer, df, feed_id, entry, now)
        if better is not None and better != story_id:
            db.execute("UPDATE items SET story_id = ? WHERE id = ?", [better, item_id])
            db.execute("DELETE FROM stories WHERE id = ?", [story_id])
            attach_item(db, clusterer.decode(entry.terms), better, feed_id, item_id, iso(now) or "", clusterer, entry.anchors)
            story_id = better
    return item_id, int(story_id)


def save_poll(
    db: sqlite_utils.Database,
    feed_id: int,
    update: PollUpdate,
    entries: Sequence[NewItem],
    now: datetime,
    clusterer: Clusterer | None = None,
    send_since: datetime | None = None,
) -> list[Hit]:
    """Store new items with their stories and hits, changed items' new text and any hits it brings,
    and the feed's state, atomically. Return the hits that are new.

    An item joins the story of a stored copy (same article URL) or of the post it forwards or links;
    otherwise, with a clusterer, an item that matched topics joins the recent story of those topics
    that the clusterer chooses; otherwise it opens a story. A story gets at most one hit per topic.

    A new hit is queued for delivery in the same transaction, unless the item says it was published
    before `send_since` (the pipeline gives one on a feed's first read, for its backlog): that one is
    kept, not sent. A personal watch's hit goes to its chat only (storage.watches) and is not among
    the hits returned."""
    now_s = iso(now) or ""
    feed_name = db.execute("SELECT name FROM feeds WHERE id = ?", [feed_id]).fetchone()[0]
    hits: list[Hit] = []
    with db.conn:
        df = DocumentFrequencies.kept(db) if clusterer is not None else None
        # The stories of stored copies are read for the whole poll at once, unless a changed item may
        # join a story on the way (then each new item asks when its turn comes).
        changes = any(e.changed for e in entries)
        finder = StoryFinder(db, None if changes else [e.item for e in entries])
        plain: list[tuple[object, ...]] = []  # items of no story, written together (in their order)
        for entry in entries:
            if df is not None and not entry.changed and clusterer is not None:
                df.add(clusterer.keys(entry.terms))
            if entry.changed:
                _insert_plain(db, plain)
                stored = _restore_changed(db, feed_id, entry, now, clusterer, df)
            else:
                found = finder.find(entry.item)
                if found is None and not entry.matches:
                    plain.append(_item_row(feed_id, entry.item, None, now_s))
                    continue
                _insert_plain(db, plain)
                stored = _store_entry(db, feed_id, entry, now, clusterer, df, found)
                if stored is not None and stored[1] is not None:
                    finder.note(entry.item, stored[1])
            if stored is None:
                continue
            item_id, story_id = stored
            if story_id is None:
                continue  # it matched nothing
            item = entry.item
            held = send_since is not None and item.published_at is not None and item.published_at < send_since
            for m in entry.matches:
                if watch_id_of(m.topic) is not None:
                    record_watch_hit(db, story_id, m.topic, item_id, m.terms, now_s, not held)
                    continue
                cur = db.execute(
                    "INSERT OR IGNORE INTO hits (story_id, topic, item_id, matched, created_at) VALUES (?, ?, ?, ?, ?)",
                    [story_id, m.topic, item_id, json.dumps(list(m.terms), ensure_ascii=False), now_s],
                )
                if not cur.rowcount:
                    continue
                if not held:
                    enqueue_story(db, story_id, m.topic, now_s)
                hit_id = int(cur.lastrowid or 0)
                hits.append(Hit(hit_id, m.topic, feed_name, item.title, item.url, item.published_at, story_id, m.terms, held))
        _insert_plain(db, plain)
        if df is not None:
            df.save()
        _store_update(db, feed_id, update, now_s, any(not e.changed for e in entries))
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
        "note": u.note,
        "item_digests": u.item_digests,
    }
    if u.next_poll_at is not None:
        values["next_poll_at"] = iso(u.next_poll_at)
    if u.url:
        values["url"] = u.url
    if has_new:
        values["last_new_item_at"] = now
    update_feed(db, feed_id, values)


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
