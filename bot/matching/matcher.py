"""Compiled topics: every topic's terms in one index, matched against an item's words (pure).

Matching cost grows with the length of the text, not with the number of topics: the text's words
are looked up in one dict of every term's first word (plus one dict of prefixes), and only the topics
that have a candidate term are evaluated. Words are compared by key (see `lemmas`): a query word
matches a text word when their keys meet, so inflected forms and particles are handled in one place
for queries and texts alike.

A query word written in Cyrillic is analysed (with pymorphy3's Russian and Ukrainian dictionaries,
about 45 MB) only once a text with a Cyrillic word arrives: until then no text key can meet it (the
keys of a word are in the script it starts with, the one that chose its dictionary), so a poll of
feeds in other languages never loads those dictionaries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from bot.matching.lemmas import WORD_CACHE, query_keys, text_keys
from bot.matching.normalize import fold, is_cyrillic, word_cases, words
from bot.matching.query import And, Near, Node, Not, Or, Term, case_fits, iter_terms, parse_query
from bot.models import Match, Topic


@dataclass
class TextIndex:
    """Word keys -> positions, per field. Title and text share one position space (a gap between)."""

    all: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    title: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    feed: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    tokens: list[str] = field(default_factory=list)
    title_end: int = 0
    feed_tokens: list[str] = field(default_factory=list)
    cyrillic: bool = False  # a word of the title, text or feed name starts with a Cyrillic letter
    raw: tuple[str, str, str] | None = None  # title, text and feed name as written, for {word} terms
    _cases: tuple[list[str], list[str]] | None = None

    def case_at(self, name: str | None, pos: int) -> str | None:
        """How the word at `pos` of a field's tokens is written (`normalize.word_case`), worked out on
        first use; None when the text as written is not known or does not split into the same words."""
        if self.raw is None:
            return None
        if self._cases is None:
            title, text, feed = self.raw
            cases = [*word_cases(title), *[""] * GAP, *word_cases(text)]
            feed_cases = word_cases(feed)
            self._cases = (
                cases if len(cases) == len(self.tokens) else [],
                feed_cases if len(feed_cases) == len(self.feed_tokens) else [],
            )
        cases = self._cases[1] if name == "feed" else self._cases[0]
        return cases[pos] if pos < len(cases) else None

    def for_field(self, name: str | None) -> tuple[dict[str, list[int]], list[str], int]:
        """(index, tokens, number of tokens searchable) for a term restricted to `name`."""
        if name == "title":
            return self.title, self.tokens, self.title_end
        if name == "feed":
            return self.feed, self.feed_tokens, len(self.feed_tokens)
        return self.all, self.tokens, len(self.tokens)


GAP = 10  # title and body are never one phrase


def index_text(title: str, text: str, feed: str = "") -> TextIndex:
    """Build the word index of one item."""
    return index_words(words(title), words(text), words(feed), (title, text, feed))


def index_words(title: list[str], text: list[str], feed: list[str], raw: tuple[str, str, str] | None = None) -> TextIndex:
    """Build the word index of one item from its words (`normalize.words` of title, text, feed name);
    `raw` (the three as written) lets {word} terms see how each word is written."""
    idx = TextIndex(raw=raw)
    for is_title, part in ((True, title), (False, text)):
        for tok in part:
            pos = len(idx.tokens)
            idx.tokens.append(tok)
            if not idx.cyrillic and is_cyrillic(tok):
                idx.cyrillic = True
            for key in text_keys(tok):
                idx.all[key].append(pos)
                if is_title:
                    idx.title[key].append(pos)
        if is_title:
            idx.title_end = len(idx.tokens)
            idx.tokens.extend([""] * GAP)
    idx.feed_tokens = feed
    idx.cyrillic = idx.cyrillic or any(is_cyrillic(tok) for tok in feed)
    for i, tok in enumerate(idx.feed_tokens):
        for key in text_keys(tok):
            idx.feed[key].append(i)
    return idx


def _word_at(idx_tokens: list[str], pos: int, keys: tuple[str, ...], prefix: bool, table: dict[str, list[int]]) -> bool:
    if pos >= len(idx_tokens) or not idx_tokens[pos]:
        return False
    if prefix:
        return any(k.startswith(keys[0]) for k in text_keys(idx_tokens[pos]))
    return any(pos in table.get(key, ()) for key in keys)


@lru_cache(maxsize=100_000)
def term_keys(term: Term) -> list[tuple[str, ...]]:
    """Each word's lookup keys; the prefix* word is looked up by its folded form."""
    last = len(term.words) - 1
    return [(fold(w),) if term.prefix and i == last else query_keys(w) for i, w in enumerate(term.words)]


@lru_cache(maxsize=100_000)
def needs_cyrillic(term: Term) -> bool:
    """Whether a word of the term is looked up by its Cyrillic dictionary keys (a text without a
    Cyrillic word cannot hold the term; a prefix* word is looked up by its letters alone)."""
    last = len(term.words) - 1
    return any(is_cyrillic(w) for i, w in enumerate(term.words) if not (term.prefix and i == last))


def _term_positions(term: Term, idx: TextIndex) -> list[tuple[int, int]]:
    """(start, end) word spans where the term occurs; a prefix* applies to the term's last word."""
    if not idx.cyrillic and needs_cyrillic(term):
        return []
    table, tokens, limit = idx.for_field(term.field)
    keys = term_keys(term)
    last = len(keys) - 1
    if term.prefix and last == 0:  # every key of the text that starts with the prefix (fewer than words)
        starts: list[int] = sorted({p for k, ps in table.items() if k.startswith(keys[0][0]) for p in ps if p < limit})
    else:
        starts = sorted({p for k in keys[0] for p in table.get(k, ()) if p < limit})
    if term.case:
        starts = [p for p in starts if case_fits(term.case, idx.case_at(term.field, p))]
    spans = []
    for start in starts:
        if all(
            start + i < limit and _word_at(tokens, start + i, k, term.prefix and i == last, table)
            for i, k in enumerate(keys[1:], 1)
        ):
            spans.append((start, start + last))
    return spans


def _has_term(term: Term, idx: TextIndex) -> bool:
    """Whether the term occurs; a single word needs no positions (every key in a field's table has one),
    and a phrase none when one of its whole words is missing."""
    if not idx.cyrillic and needs_cyrillic(term):
        return False
    if term.case:  # how a word is written is known per position
        return bool(_term_positions(term, idx))
    table = idx.for_field(term.field)[0]
    keys = term_keys(term)
    if len(term.words) > 1:
        whole = keys[:-1] if term.prefix else keys
        return all(any(k in table for k in word) for word in whole) and bool(_term_positions(term, idx))
    first = keys[0]
    if term.prefix:
        return any(k.startswith(first[0]) for k in table)
    return any(k in table for k in first)


def evaluate(node: Node, idx: TextIndex) -> list[str] | None:
    """The matched terms' source text if `node` matches, else None."""
    if isinstance(node, Term):
        return [node.source] if _has_term(node, idx) else None
    if isinstance(node, Near):
        left, right = _term_positions(node.left, idx), _term_positions(node.right, idx)
        for ls, le in left:
            for rs, re_ in right:
                gap = rs - le if rs > le else ls - re_
                if gap <= node.distance:
                    return [node.left.source, node.right.source]
        return None
    if isinstance(node, Not):
        return None if evaluate(node.child, idx) is not None else []
    if isinstance(node, And):
        found: list[str] = []
        for child in node.children:
            got = evaluate(child, idx)
            if got is None:
                return None
            found += got
        return found
    assert isinstance(node, Or)
    found = []
    matched = False
    for child in node.children:
        got = evaluate(child, idx)
        if got is not None:
            matched = True
            found += got
    return found if matched else None


@dataclass(frozen=True)
class CompiledTopic:
    """A topic with its parsed query."""

    topic: Topic
    ast: Node


class Matcher:
    """All topics compiled once; `match` returns the topics an item matches. Terms with a Cyrillic
    word are indexed when the first text with a Cyrillic word arrives (`cyrillic_ready`)."""

    def __init__(self, topics: Sequence[Topic]) -> None:
        self.topics = [CompiledTopic(t, parse_query(t.query)) for t in topics]
        self._by_key: dict[str, set[int]] = defaultdict(set)
        self._by_prefix: dict[str, set[int]] = defaultdict(set)
        self._prefix_lengths: set[int] = set()
        self._cache: dict[str, frozenset[int]] = {}
        self._starters: set[str] = set()  # words that can start a match, and words that cannot (may_match)
        self._idle: set[str] = set()
        self._waiting: list[tuple[int, Term]] = []  # terms that need the Cyrillic dictionaries
        for i, ct in enumerate(self.topics):
            for term in iter_terms(ct.ast):
                if needs_cyrillic(term):
                    self._waiting.append((i, term))
                else:
                    self._add(i, term)

    def _add(self, i: int, term: Term) -> None:
        first = term_keys(term)[0]
        if term.prefix and len(term.words) == 1:
            self._by_prefix[first[0]].add(i)
            self._prefix_lengths.add(len(first[0]))
        else:
            for key in first:
                self._by_key[key].add(i)

    @property
    def cyrillic_ready(self) -> bool:
        """Whether the terms with a Cyrillic word are indexed (a Cyrillic text has arrived)."""
        return not self._waiting

    def _index_cyrillic(self) -> None:
        """Index the terms waiting for a Cyrillic text (the cached lookups are dropped: a key may start
        one of them now)."""
        waiting, self._waiting = self._waiting, []
        for i, term in waiting:
            self._add(i, term)
        self._cache.clear()
        self._starters.clear()
        self._idle.clear()

    def may_match(self, *word_lists: list[str]) -> bool:
        """Whether any of these words could start a match of some topic (cached per word form): when
        none can, the item matches nothing and needs no index (`candidates` would be empty)."""
        idle, starters = self._idle, self._starters
        for tokens in word_lists:
            if idle.issuperset(tokens):  # most items: every word known to start nothing (one pass in C)
                continue
            for tok in tokens:
                if tok in idle:
                    continue
                if tok not in starters:
                    if self._waiting and is_cyrillic(tok):
                        self._index_cyrillic()
                    starts = any(self._topics_of(k) for k in text_keys(tok))
                    if len(idle) + len(starters) < WORD_CACHE:
                        (starters if starts else idle).add(tok)
                    if not starts:
                        continue
                return True
        return False

    def candidates(self, idx: TextIndex) -> set[int]:
        """Topics with at least one term whose first word (or prefix) occurs in the text."""
        if self._waiting and idx.cyrillic:
            self._index_cyrillic()
        found: set[int] = set()
        for table in (idx.all, idx.feed):
            for key in table:
                hit = self._topics_of(key)
                if hit:
                    found |= hit
        return found

    def _topics_of(self, key: str) -> frozenset[int]:
        """The topics a text key can start a match for, from the cache when it holds them."""
        found = self._cache.get(key)
        return found if found is not None else self._key_candidates(key)

    def _key_candidates(self, key: str) -> frozenset[int]:
        """Topics a text word can start a match for (cached: a vocabulary repeats across items)."""
        ids = set(self._by_key.get(key, ()))
        for n in self._prefix_lengths:
            if len(key) >= n:
                ids |= self._by_prefix.get(key[:n], set())
        out = frozenset(ids)
        if len(self._cache) < WORD_CACHE:
            self._cache[key] = out
        return out

    def match_index(self, idx: TextIndex) -> list[Match]:
        """Topics matching an already indexed text."""
        out = []
        for i in sorted(self.candidates(idx)):
            ct = self.topics[i]
            terms = evaluate(ct.ast, idx)
            if terms is not None:
                out.append(Match(ct.topic.id, tuple(dict.fromkeys(terms))))
        return out

    def match(self, title: str, text: str, feed: str = "") -> list[Match]:
        """Topics matching an item's title, text and feed name."""
        return self.match_index(index_text(title, text, feed))
