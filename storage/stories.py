"""Stories: the story an item belongs to, and the term statistics clustering weighs evidence by.

The decision itself is pure and lives in `bot.clustering`; this module reads what it needs (recent
stories of a topic with their terms, document frequencies) and writes what it decided, inside the
caller's transaction. Document frequencies are kept in `term_df` (the empty term counts items), so
the rarity of a word is that of the whole store, across restarts.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol

import sqlite_utils

from bot.clustering import PRIOR_DOCS
from bot.models import Candidate, Item
from bot.stories import canonical_url, story_url
from storage.db import chunks, from_iso, iso

Terms = Mapping[str, float]
MAX_CANDIDATES = 100  # the most recently updated stories of the item's topics that it is compared with
MAX_ANCHORS = 200  # a story's anchors kept (numbers and names of its items)
MAX_KEPT_TERMS = 50_000  # document frequencies a connection keeps between transactions (a few MB)


class Clusterer(Protocol):
    """Chooses the story an item reports (the rules live in bot.clustering)."""

    window: timedelta

    def choose(
        self,
        terms: Terms,
        at: datetime | None,
        candidates: Sequence[Candidate],
        idf: Callable[[str], float],
        topics: Sequence[str],
    ) -> int | None:
        """A candidate story id for the item, or None for a new story."""
        ...

    def choose_across(
        self, anchors: str, at: datetime | None, candidates: Sequence[tuple[int, str, datetime | None]], topics: Sequence[str]
    ) -> int | None:
        """A story in another language (candidates: id, stored anchors, last seen) for the item, or None."""
        ...

    def decode(self, text: str | None) -> Terms:
        """Stored terms back to counts (read only: they may be shared)."""
        ...

    def keys(self, text: str | None) -> list[str]:
        """The distinct terms of stored terms, without their counts."""
        ...

    def encode(self, terms: Terms) -> str:
        """Terms as stored."""
        ...


class DocumentFrequencies:
    """Term rarity read lazily from `term_df`, plus this transaction's own items.

    `kept` gives the one a connection keeps from one transaction to the next: the frequencies read
    by earlier polls are not read again. It is kept while no other connection has committed
    (`PRAGMA data_version`) and none of this connection's transactions or savepoints has rolled back
    (`storage.db.TransactionConnection.rollbacks`): otherwise the stored counts may differ from the
    ones held here, and a fresh one reads them again."""

    def __init__(self, db: sqlite_utils.Database, token: tuple[int, int] | None = None) -> None:
        self.db = db
        self.token = token
        self._df: dict[str, int] = {}
        self._added: Counter[str] = Counter()
        row = db.execute("SELECT df FROM term_df WHERE term = ''").fetchone()
        self.n_docs = int(row[0]) if row else 0
        self._new_docs = 0

    @classmethod
    def kept(cls, db: sqlite_utils.Database) -> DocumentFrequencies:
        """The frequencies this connection keeps, still true of the store, or fresh ones (kept from now)."""
        conn = db.conn
        memory = getattr(conn, "kept", None)
        if not isinstance(memory, dict):
            return cls(db)
        token = (int(conn.execute("PRAGMA data_version").fetchone()[0]), int(getattr(conn, "rollbacks", 0)))
        df = memory.get("document_frequencies")
        if isinstance(df, cls) and df.db is db and df.token == token and len(df._df) < MAX_KEPT_TERMS:
            return df
        df = memory["document_frequencies"] = cls(db, token)
        return df

    def load(self, terms: Iterable[str]) -> None:
        """Read the frequencies of terms not read yet (one query per 500 terms; `idf` reads any other
        term on its own when first asked)."""
        missing = sorted(set(terms).difference(self._df))
        for chunk in chunks(missing):
            marks = ",".join("?" * len(chunk))
            found = dict(self.db.execute(f"SELECT term, df FROM term_df WHERE term IN ({marks})", list(chunk)).fetchall())
            for t in chunk:
                self._df[t] = int(found.get(t, 0))

    def add(self, terms: Iterable[str]) -> None:
        """Count one more stored item with these distinct terms."""
        self._new_docs += 1
        self._added.update(terms)

    def idf(self, term: str) -> float:
        """Smoothed inverse document frequency over every stored item (see bot.clustering.Vocabulary)."""
        df = self._df.get(term)
        if df is None:
            self.load((term,))
            df = self._df[term]
        df += self._added.get(term, 0)
        return math.log((self.n_docs + self._new_docs + PRIOR_DOCS) / (df + 0.5))

    def save(self) -> None:
        """Write this transaction's counts (inside the caller's transaction)."""
        if not self._new_docs:
            return
        rows = [("", self._new_docs), *self._added.items()]
        self.db.conn.executemany(
            "INSERT INTO term_df (term, df) VALUES (?, ?) ON CONFLICT(term) DO UPDATE SET df = df + excluded.df", rows
        )
        self.n_docs += self._new_docs
        for t, n in self._added.items():
            if t in self._df:
                self._df[t] += n
        self._new_docs, self._added = 0, Counter()


def stored_url(item: Item) -> str | None:
    """The canonical URL an item is stored under, unless its feed gives that link to other items too."""
    return None if item.extra.get("shared_key") else canonical_url(item.url)


def find_story(db: sqlite_utils.Database, item: Item) -> int | None:
    """The story of a stored copy of the item (same article URL), or of the post it forwards or links."""
    return StoryFinder(db).find(item)


class StoryFinder:
    """`find_story` for the items of one poll: given them all, it reads the stories of their stored
    copies in one query (index items_canonical_url; per URL the copy stored first, as one lookup of
    that URL finds it), and it must be told of each item stored with a story after that (`note`).
    Given none, each `find` asks the database."""

    def __init__(self, db: sqlite_utils.Database, items: Sequence[Item] | None = None) -> None:
        self.db = db
        self._found: dict[str, int] | None = None
        if items is not None:
            self._found = {}
            urls = sorted({u for it in items if (u := _own_url(it)) is not None})
            for chunk in chunks(urls):
                marks = ",".join("?" * len(chunk))
                rows = db.execute(
                    f"SELECT canonical_url, story_id FROM items WHERE canonical_url IN ({marks}) AND story_id IS NOT NULL"
                    " ORDER BY canonical_url, id",
                    list(chunk),
                )
                for url, story_id in rows:
                    self._found.setdefault(url, int(story_id))

    def find(self, item: Item) -> int | None:
        """The story of a stored copy of the item, or of the post it forwards or links."""
        canonical = _own_url(item)
        if canonical is not None:
            if self._found is not None:
                found = self._found.get(canonical)
                if found is not None:
                    return found
            else:
                row = self.db.execute(
                    "SELECT story_id FROM items WHERE canonical_url = ? AND story_id IS NOT NULL LIMIT 1", [canonical]
                ).fetchone()
                if row:
                    return int(row[0])
        links = [item.extra.get("forwarded_from_url"), *(item.extra.get("links") or [])]  # type: ignore[misc]
        urls = [u for u in (story_url(str(x)) for x in links if x) if u and u != canonical]
        return linked_story(self.db, urls) if urls else None

    def note(self, item: Item, story_id: int) -> None:
        """An item has just been stored in a story: a later copy of it finds that story (unless an
        earlier copy's)."""
        url = stored_url(item)
        if self._found is not None and url is not None:
            self._found.setdefault(url, story_id)


def _own_url(item: Item) -> str | None:
    return None if item.extra.get("shared_key") else story_url(item.url)  # a link many items share names none


def linked_story(db: sqlite_utils.Database, urls: Sequence[str]) -> int | None:
    """The story of a stored item whose canonical URL is one of `urls` (a forward, a link)."""
    for chunk in chunks(list(urls)):
        marks = ",".join("?" * len(chunk))
        row = db.execute(
            f"SELECT story_id FROM items WHERE canonical_url IN ({marks}) AND story_id IS NOT NULL LIMIT 1", list(chunk)
        ).fetchone()
        if row:
            return int(row[0])
    return None


def recent_candidates(
    db: sqlite_utils.Database,
    clusterer: Clusterer,
    topics: Sequence[str],
    since: datetime,
    lang: str,
    feed_id: int,
) -> list[Candidate]:
    """Stories of these topics seen since `since`, in the item's language, with their terms: the
    MAX_CANDIDATES most recently updated, so the cost of an item does not grow with the store. Only
    stories with a hit are read (index stories_hit_seen): most stories hold one item that matched nothing."""
    marks = ",".join("?" * len(topics))
    rows = db.execute(
        f"SELECT s.id, s.signature, s.last_seen_at,"
        f" EXISTS(SELECT 1 FROM items i WHERE i.story_id = s.id AND i.feed_id = ?)"
        f" FROM stories s WHERE s.has_hits = 1 AND s.last_seen_at >= ? AND coalesce(s.lang, '') = ?"
        f" AND EXISTS(SELECT 1 FROM hits h WHERE h.story_id = s.id AND h.topic IN ({marks}))"
        f" ORDER BY s.last_seen_at DESC LIMIT ?",
        [feed_id, iso(since), lang, *topics, MAX_CANDIDATES],
    ).fetchall()
    return [Candidate(int(r[0]), clusterer.decode(r[1]), from_iso(r[2]), bool(r[3])) for r in rows]


def recent_across(
    db: sqlite_utils.Database, topics: Sequence[str], since: datetime, lang: str
) -> list[tuple[int, str, datetime | None]]:
    """Stories of these topics seen since `since` in a language other than `lang`, with their anchors:
    (id, anchors, last seen), the MAX_CANDIDATES most recently updated (index stories_hit_seen, whose
    language column passes over the stories in `lang` without reading them)."""
    marks = ",".join("?" * len(topics))
    rows = db.execute(
        f"SELECT s.id, s.anchors, s.last_seen_at FROM stories s WHERE s.has_hits = 1 AND s.last_seen_at >= ?"
        f" AND coalesce(s.lang, '') NOT IN ('', ?) AND coalesce(s.anchors, '') != ''"
        f" AND EXISTS(SELECT 1 FROM hits h WHERE h.story_id = s.id AND h.topic IN ({marks}))"
        f" ORDER BY s.last_seen_at DESC LIMIT ?",
        [iso(since), lang, *topics, MAX_CANDIDATES],
    ).fetchall()
    return [(int(r[0]), str(r[1]), from_iso(r[2])) for r in rows]


def create_story(
    db: sqlite_utils.Database, item: Item, canonical: str | None, now: str, signature: str, lang: str, anchors: str = ""
) -> int:
    """A new story opened by this item."""
    cur = db.execute(
        "INSERT INTO stories (title, url, canonical_url, first_seen_at, last_seen_at, published_at, n_items, n_feeds,"
        " signature, lang, anchors) VALUES (?, ?, ?, ?, ?, ?, 1, 1, ?, ?, ?)",
        [item.title, item.url, canonical, now, now, iso(item.published_at), signature, lang, anchors or None],
    )
    return int(cur.lastrowid or 0)


def attach_item(
    db: sqlite_utils.Database,
    terms: Terms,
    story_id: int,
    feed_id: int,
    item_id: int,
    now: str,
    clusterer: Clusterer | None,
    anchors: str = "",
) -> None:
    """Count a newly written item into its story and grow the story's terms and anchors."""
    row = db.execute(
        "SELECT signature, EXISTS(SELECT 1 FROM items WHERE story_id = ? AND feed_id = ? AND id != ?), anchors"
        " FROM stories WHERE id = ?",
        [story_id, feed_id, item_id, story_id],
    ).fetchone()
    if anchors and row:
        kept = sorted(set((row[2] or "").split()) | set(anchors.split()))
        db.execute("UPDATE stories SET anchors = ? WHERE id = ?", [" ".join(kept[:MAX_ANCHORS]), story_id])
    signature = row[0] if row else None
    if terms and clusterer is not None:
        merged = dict(clusterer.decode(signature))
        for t, c in terms.items():
            merged[t] = merged.get(t, 0.0) + c
        signature = clusterer.encode(merged)
    db.execute(
        "UPDATE stories SET n_items = n_items + 1, n_feeds = n_feeds + ?, last_seen_at = ?, signature = ? WHERE id = ?",
        [0 if row and row[1] else 1, now, signature, story_id],
    )
