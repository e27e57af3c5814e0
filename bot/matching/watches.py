"""Personal watches compiled for matching: an inverted index from anchor keys to watches (pure).

There may be tens of thousands of watches, so an item must not evaluate them all. Each watch is
indexed under its *anchors*: word keys such that the watch can only match a text containing at least
one of them. Every word of a term, both sides of NEAR and one child of AND must occur, so each is
anchored by one of those, the one with the fewest and longest keys (a long word is usually a rare
one; a phrase is not anchored by its "the"); a prefix* by its prefix; OR by every child's anchors;
NOT never anchors.
An item looks up its own keys (already computed for the topics) and evaluates only the watches they
anchor, so its cost follows its words and the few watches they name, not the number of watches.
A watch that is one word or alternatives of single words is decided by the anchor lookup itself, one
of words that must and must not occur by looking their keys up; the others (phrases, prefixes in an
AND, NEAR, fields, {word}s, groups) are evaluated like topics (bot.matching.matcher.evaluate).

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
from bot.matching.query import And, Near, Node, Not, Or, Term, has_positive_term, parse_query
from bot.models import Match, watch_key

Anchor = tuple[str, bool]  # (key, is a prefix)
CACHE_MAX = 200_000


class WatchSource(Protocol):
    """Where the compiled watches come from (storage.watches.WatchChanges reads the watches table)."""

    def changes_since(self, version: int) -> tuple[int, list[tuple[int, str | None]]]:
        """(the newest version, [(watch id, its query, or None when removed)]) after `version`."""
        ...


def _term_anchors(term: Term) -> frozenset[Anchor]:
    """Every word of a term must occur, so any one word anchors it: the best ranked."""
    keys = term_keys(term)
    last = len(keys) - 1
    options = [
        frozenset({(k[0], True)}) if term.prefix and i == last else frozenset((x, False) for x in k) for i, k in enumerate(keys)
    ]
    return min(options, key=_rank)


def _rank(found: frozenset[Anchor]) -> tuple[int, int]:
    """Fewer alternatives first, then longer keys (a long word is usually a rare one)."""
    return len(found), -min(len(k) for k, _ in found)


def anchors(node: Node) -> frozenset[Anchor] | None:
    """Keys one of which every text the node matches contains; None when there is no such set (NOT)."""
    if isinstance(node, Term):
        return _term_anchors(node)
    if isinstance(node, Near):
        return min(_term_anchors(node.left), _term_anchors(node.right), key=_rank)
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
    return min(options, key=_rank)


def _tag(anchor: Anchor) -> str:
    """An anchor as one string (hashes are cached on strings): a prefix ends in "*", which no key holds."""
    return f"{anchor[0]}*" if anchor[1] else anchor[0]


def _any_of(node: Node) -> tuple[tuple[str, str], ...] | None:
    """A query that is one word or alternatives of single words (no field, no phrase) as (anchor,
    source) pairs: it matches exactly when one of those anchors is in the text, so the anchor lookup
    alone decides it."""
    terms = node.children if isinstance(node, Or) else (node,)
    out: list[tuple[str, str]] = []
    for t in terms:
        if not isinstance(t, Term) or len(t.words) != 1 or t.field is not None or t.case:
            return None
        out += [(_tag(a), t.source) for a in sorted(_term_anchors(t))]
    return tuple(out)


Word = tuple[tuple[str, ...], str]  # a word's lookup keys, its source text


def _all_of(node: Node) -> tuple[tuple[Word, ...], tuple[Word, ...]] | None:
    """A query of words that must all occur and words that must not (no field, phrase or prefix) as
    (required, excluded): it is decided by looking the keys up, without evaluating the query."""
    if not isinstance(node, And):
        return None
    required: list[Word] = []
    excluded: list[Word] = []
    for child in node.children:
        target = excluded if isinstance(child, Not) else required
        term = child.child if isinstance(child, Not) else child
        if not isinstance(term, Term) or len(term.words) != 1 or term.field is not None or term.prefix or term.case:
            return None
        target.append((term_keys(term)[0], term.source))
    return tuple(required), tuple(excluded)


KeyEntry = tuple[tuple[tuple[int, int, str], ...], tuple[int, ...]]
_NOTHING: KeyEntry = ((), ())


class WatchIndex:
    """Every watch's query, indexed by anchor key; `match_index` returns the watches an item matches."""

    def __init__(self) -> None:
        self.version = 0
        self._asts: dict[int, Node] = {}
        self._keys: dict[int, str] = {}  # watch id -> its match key ("watch:<id>")
        self._anchors: dict[int, frozenset[str]] = {}
        self._any_of: dict[int, tuple[tuple[str, str], ...]] = {}
        self._all_of: dict[int, tuple[tuple[Word, ...], tuple[Word, ...]]] = {}
        self._watchers: dict[str, set[int]] = defaultdict(set)
        self._prefix_lengths: Counter[int] = Counter()
        self._cache: dict[str, KeyEntry] = {}

    def __len__(self) -> int:
        return len(self._asts)

    def add(self, watch_id: int, query: str) -> None:
        """Compile one watch (replacing a watch of the same id); raise QueryError if it does not parse."""
        ast = parse_query(query)
        found = anchors(ast)
        if not found:  # parse_query refuses queries without a positive term, so this is a safeguard
            raise QueryError("a watch needs at least one word that is not excluded", query, 0)
        self.remove(watch_id)
        tags = frozenset(_tag(a) for a in found)
        self._asts[watch_id] = ast
        self._keys[watch_id] = watch_key(watch_id)
        self._anchors[watch_id] = tags
        if (any_of := _any_of(ast)) is not None:
            self._any_of[watch_id] = any_of
        elif (all_of := _all_of(ast)) is not None:
            self._all_of[watch_id] = all_of
        for tag in tags:
            self._watchers[tag].add(watch_id)
            if tag.endswith("*"):
                self._prefix_lengths[len(tag) - 1] += 1
        self._forget(tags)

    def remove(self, watch_id: int) -> bool:
        """Drop one watch; False when it was not there."""
        tags = self._anchors.pop(watch_id, None)
        if tags is None:
            return False
        del self._asts[watch_id], self._keys[watch_id]
        self._any_of.pop(watch_id, None)
        self._all_of.pop(watch_id, None)
        for tag in tags:
            ids = self._watchers[tag]
            ids.discard(watch_id)
            if not ids:
                del self._watchers[tag]
            if tag.endswith("*"):
                n = len(tag) - 1
                self._prefix_lengths[n] -= 1
                if not self._prefix_lengths[n]:
                    del self._prefix_lengths[n]
        self._forget(tags)
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

    def _forget(self, tags: frozenset[str]) -> None:
        """Drop the cached lookups a change of these anchors affects."""
        if any(tag.endswith("*") for tag in tags):
            self._cache.clear()
            return
        for tag in tags:
            self._cache.pop(tag, None)

    def _key_entry(self, key: str) -> KeyEntry:
        """What a text key contributes (cached): the one-word watches it matches, as (watch id, the
        word's place in the query, its source), and the other watches it anchors."""
        entry = self._cache.get(key)
        if entry is not None:
            return entry
        tags = [key] if key in self._watchers else []
        for n in self._prefix_lengths:
            if len(key) >= n and (tag := f"{key[:n]}*") in self._watchers:
                tags.append(tag)
        direct: list[tuple[int, int, str]] = []
        others: set[int] = set()
        for tag in tags:
            for watch_id in self._watchers[tag]:
                any_of = self._any_of.get(watch_id)
                if any_of is None:
                    others.add(watch_id)
                    continue
                direct += [(watch_id, i, source) for i, (t, source) in enumerate(any_of) if t == tag]
        entry = (tuple(direct), tuple(others)) if tags else _NOTHING
        if len(self._cache) < CACHE_MAX:
            self._cache[key] = entry
        return entry

    def match_index(self, idx: TextIndex) -> list[Match]:
        """The watches an already indexed item matches, as Match(watch key, matched terms)."""
        if not self._asts:
            return []
        found: dict[int, list[tuple[int, str]]] = {}
        others: set[int] = set()
        cached, entry_of = self._cache.get, self._key_entry
        for key in idx.all:
            direct, anchored = cached(key) or entry_of(key)
            for watch_id, place, source in direct:
                if watch_id in found:
                    found[watch_id].append((place, source))
                else:
                    found[watch_id] = [(place, source)]
            if anchored:
                others.update(anchored)
        for key in idx.feed:  # only fielded watches (feed:) look at the feed's name
            others.update(self._key_entry(key)[1])
        table = idx.all
        results = {
            w: (hits[0][1],) if len(hits) == 1 else tuple(dict.fromkeys(source for _, source in sorted(hits)))
            for w, hits in found.items()
        }
        for watch_id in others:
            if (all_of := self._all_of.get(watch_id)) is not None:
                required, excluded = all_of
                if all(any(k in table for k in keys) for keys, _ in required) and not any(
                    any(k in table for k in keys) for keys, _ in excluded
                ):
                    results[watch_id] = tuple(dict.fromkeys(source for _, source in required))
            elif (terms := evaluate(self._asts[watch_id], idx)) is not None:
                results[watch_id] = tuple(dict.fromkeys(terms))
        return [Match(self._keys[w], results[w]) for w in sorted(results)]
