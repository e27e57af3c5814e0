"""Personal watches compiled for matching: an inverted index from anchor keys to watches (pure).

There may be tens of thousands of watches, so an item must not evaluate them all. Each watch is
indexed under its *anchors*: word keys such that the watch can only match a text containing at least
one of them. A term is anchored by its first word's lookup keys (a prefix* term by its prefix); NEAR
by its left term; OR by every child's anchors; AND by the anchors of one child that can match on its
own, the one with the fewest and longest keys (a long word is usually a rare one); NOT never anchors.
An item looks up its own keys (already computed for the topics) and evaluates only the watches they
anchor, so its cost follows its words and the few watches they name, not the number of watches.
A watch that is one word or alternatives of single words (most are) is decided by the anchor lookup
itself; the others are evaluated like topics (bot.matching.matcher.evaluate).

Adding or removing a watch touches only that watch's anchors: the index follows the watches table
through `sync` (changes since a version number), with no rebuild. Per-key candidate lists are cached
between changes; a change drops the cached entries it could affect.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Protocol

from bot.errors import QueryError
from bot.matching.matcher import TextIndex, evaluate, term_keys
from bot.matching.query import Near, Node, Not, Or, Term, has_positive_term, parse_query
from bot.models import Match, watch_key

Anchor = tuple[str, bool]  # (key, is a prefix)
CACHE_MAX = 200_000


class WatchSource(Protocol):
    """Where the compiled watches come from (storage.watches.WatchChanges reads the watches table)."""

    def changes_since(self, version: int) -> tuple[int, list[tuple[int, str | None]]]:
        """(the newest version, [(watch id, its query, or None when removed)]) after `version`."""
        ...


def _term_anchors(term: Term) -> frozenset[Anchor]:
    first = term_keys(term)[0]
    if term.prefix and len(term.words) == 1:
        return frozenset({(first[0], True)})
    return frozenset((k, False) for k in first)


def anchors(node: Node) -> frozenset[Anchor] | None:
    """Keys one of which every text the node matches contains; None when there is no such set (NOT)."""
    if isinstance(node, Term):
        return _term_anchors(node)
    if isinstance(node, Near):
        return _term_anchors(node.left)
    if isinstance(node, Not):
        return None
    if isinstance(node, Or):
        found: set[Anchor] = set()
        for child in node.children:
            got = anchors(child)
            if got is None:
                return None
            found |= got
        return frozenset(found)
    options = [a for a in (anchors(c) for c in node.children if has_positive_term(c)) if a]
    if not options:
        return None
    return min(options, key=lambda a: (len(a), -min(len(k) for k, _ in a)))


def _simple_terms(node: Node) -> tuple[tuple[Anchor, str], ...] | None:
    """For a query that is one word or alternatives of single words (no field, no phrase): each word's
    anchors with its source text. Such a watch matches exactly when one of its anchors is in the text,
    so the anchor lookup decides it without evaluating the query."""
    terms = node.children if isinstance(node, Or) else (node,)
    out: list[tuple[Anchor, str]] = []
    for t in terms:
        if not isinstance(t, Term) or len(t.words) != 1 or t.field is not None:
            return None
        out += [(a, t.source) for a in sorted(_term_anchors(t))]
    return tuple(out)


class WatchIndex:
    """Every watch's query, indexed by anchor key; `match_index` returns the watches an item matches."""

    def __init__(self) -> None:
        self.version = 0
        self._asts: dict[int, Node] = {}
        self._anchors: dict[int, frozenset[Anchor]] = {}
        self._simple: dict[int, tuple[tuple[Anchor, str], ...]] = {}
        self._watchers: dict[Anchor, set[int]] = defaultdict(set)
        self._prefix_lengths: Counter[int] = Counter()
        self._cache: dict[str, tuple[Anchor, ...]] = {}

    def __len__(self) -> int:
        return len(self._asts)

    def add(self, watch_id: int, query: str) -> None:
        """Compile one watch (replacing a watch of the same id); raise QueryError if it does not parse."""
        ast = parse_query(query)
        found = anchors(ast)
        if not found:  # parse_query refuses queries without a positive term, so this is a safeguard
            raise QueryError("a watch needs at least one word that is not excluded", query, 0)
        self.remove(watch_id)
        self._asts[watch_id] = ast
        self._anchors[watch_id] = found
        simple = _simple_terms(ast)
        if simple is not None:
            self._simple[watch_id] = simple
        for anchor in found:
            self._watchers[anchor].add(watch_id)
            if anchor[1]:
                self._prefix_lengths[len(anchor[0])] += 1
        self._forget(found)

    def remove(self, watch_id: int) -> bool:
        """Drop one watch; False when it was not there."""
        found = self._anchors.pop(watch_id, None)
        if found is None:
            return False
        del self._asts[watch_id]
        self._simple.pop(watch_id, None)
        for anchor in found:
            ids = self._watchers[anchor]
            ids.discard(watch_id)
            if not ids:
                del self._watchers[anchor]
            if anchor[1]:
                n = len(anchor[0])
                self._prefix_lengths[n] -= 1
                if not self._prefix_lengths[n]:
                    del self._prefix_lengths[n]
        self._forget(found)
        return True

    def apply(self, changes: Iterable[tuple[int, str | None]]) -> list[tuple[int, str]]:
        """Apply (id, query or None to remove) changes in order; return the (id, error) of queries that
        no longer parse (a watch stored by an older version with other rules): those are skipped."""
        errors = []
        for watch_id, query in changes:
            if query is None:
                self.remove(watch_id)
                continue
            try:
                self.add(watch_id, query)
            except QueryError as e:
                self.remove(watch_id)
                errors.append((watch_id, str(e)))
        return errors

    def sync(self, source: WatchSource) -> list[tuple[int, str]]:
        """Catch up with the source's changes since the version held; return apply's errors."""
        version, changes = source.changes_since(self.version)
        errors = self.apply(changes)
        self.version = version
        return errors

    def _forget(self, found: frozenset[Anchor]) -> None:
        """Drop the cached lookups a change of these anchors affects."""
        if any(is_prefix for _, is_prefix in found):
            self._cache.clear()
            return
        for key, _ in found:
            self._cache.pop(key, None)

    def _key_anchors(self, key: str) -> tuple[Anchor, ...]:
        """The anchors a text key meets: itself, and the prefixes of it that watches use."""
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        found = [(key, False)] if (key, False) in self._watchers else []
        for n in self._prefix_lengths:
            if len(key) >= n and (key[:n], True) in self._watchers:
                found.append((key[:n], True))
        out = tuple(found)
        if len(self._cache) < CACHE_MAX:
            self._cache[key] = out
        return out

    def _anchors_in(self, table: Iterable[str]) -> set[Anchor]:
        found: set[Anchor] = set()
        for key in table:
            hit = self._key_anchors(key)
            if hit:
                found.update(hit)
        return found

    def match_index(self, idx: TextIndex) -> list[Match]:
        """The watches an already indexed item matches, as Match(watch key, matched terms)."""
        if not self._asts:
            return []
        in_text = self._anchors_in(idx.all)
        candidates: set[int] = set()
        for anchor in in_text | self._anchors_in(idx.feed):
            candidates |= self._watchers[anchor]
        out = []
        for watch_id in sorted(candidates):
            simple = self._simple.get(watch_id)
            if simple is not None:
                terms: list[str] | None = [source for anchor, source in simple if anchor in in_text] or None
            else:
                terms = evaluate(self._asts[watch_id], idx)
            if terms is not None:
                out.append(Match(watch_key(watch_id), tuple(dict.fromkeys(terms))))
        return out
