"""An item's story terms (pure): the dictionary lemma of each word of its title (counted TITLE_WEIGHT
times) and of its lead's first LEAD_WORDS words (bot.matching.lemmas), words of fewer than 3 letters
left out; its numbers as one term each, with their scale word (bot.numbers); a Korean word of more
than two syllables as its syllable pairs, together weighing one word. How the terms of an item or a
story are stored (`encode_terms`) and read back. What they weigh as evidence is bot.clustering's.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from itertools import chain
from typing import cast

from bot.matching.lemmas import WORD_CACHE, lemma
from bot.matching.normalize import ascii_tokens, is_hangul, split_scripts
from bot.numbers import take_numbers

TITLE_WEIGHT = 3
LEAD_WORDS = 40
MAX_STORY_TERMS = 120  # a story keeps its most frequent terms; the rest weigh too little to matter
_WORD = re.compile(r"[^\W_]+")


def _terms(text: str, limit: int | None = None) -> list[tuple[str, float]]:
    """Lemma terms and number terms of a text (of its first `limit` words), each with its weight."""
    out: dict[str, float] = {}
    terms: list[tuple[str, float]] = []
    _count_terms(text, 1.0, out, limit, terms)
    return terms


def _count_terms(
    text: str, scale: float, counts: dict[str, float], limit: int | None = None, seen: list[tuple[str, float]] | None = None
) -> None:
    """Add `scale` x the weight of each term of a text (of its first `limit` words) to `counts`: its
    numbers first, then its words in order (and list each (term, weight) in `seen`, when given)."""
    numbers, raw = _tokens(text, limit)
    get = counts.get
    for n in numbers:
        counts[n] = get(n, 0.0) + scale * 1.0
        if seen is not None:
            seen.append((n, 1.0))
    for found in _terms_per_word(raw):
        for term, weight in found:
            counts[term] = get(term, 0.0) + scale * weight
            if seen is not None:
                seen.append((term, weight))


def _add_keys(text: str, keys: dict[str, object], limit: int | None = None) -> None:
    """Add the terms of a text (of its first `limit` words) to `keys` in `_count_terms`' order."""
    numbers, raw = _tokens(text, limit)
    keys.update(dict.fromkeys(numbers))
    keys.update(chain.from_iterable(_terms_per_word(raw)))  # (term, weight) pairs, in order


def _tokens(text: str, limit: int | None) -> tuple[list[str], list[str]]:
    """The number terms of a text (of its first `limit` words, after NFKC) and its other words as written."""
    if text.isascii():  # NFKC and split_scripts change nothing (normalize.ascii_tokens)
        if limit is not None:
            text = _first_words(text, limit, _FIRST_ASCII_WORDS, r"[^A-Za-z0-9]*+[A-Za-z0-9]++")
        rest, numbers = take_numbers(text)
        return numbers, ascii_tokens(rest)[:limit]
    return _unicode_tokens(text, limit)


def _unicode_tokens(text: str, limit: int | None) -> tuple[list[str], list[str]]:
    """`_tokens` by the rules for any text."""
    text = unicodedata.normalize("NFKC", text if limit is None else _first_words(text, limit))
    rest, numbers = take_numbers(text)
    return numbers, _WORD.findall(split_scripts(rest))[:limit]


_FIRST_WORDS: dict[int, re.Pattern[str]] = {}
_FIRST_ASCII_WORDS: dict[int, re.Pattern[str]] = {}  # the same for ASCII text, in ASCII classes (faster)


def _first_words(
    text: str, limit: int, patterns: dict[int, re.Pattern[str]] = _FIRST_WORDS, word: str = r"[\W_]*+[^\W_]++"
) -> str:
    """The text up to the end of its `limit`-th word: a long text is read no further than its lead
    (one match of `limit` words and what precedes each, none taken back: fewer words, no match)."""
    pattern = patterns.get(limit)
    if pattern is None:
        pattern = patterns[limit] = re.compile(rf"(?:{word}){{{limit}}}")
    m = pattern.match(text)
    return text[: m.end()] if m else text


Terms = tuple[tuple[str, float], ...]
# The terms of each word met (`_token_terms`), a name's where a capital marks one: inside a text for any
# word, first in a text for a capitalised one (a capital that starts a text marks nothing).
_INSIDE: dict[str, Terms] = {}
_LEADING: dict[str, Terms] = {}


def _terms_per_word(raw: list[str]) -> list[Terms]:
    """The terms of each word of a text, as written (`_token_terms`; a capital after the first word
    marks a name), mostly from the words met before (looked up in C)."""
    found: list[Terms | None] = list(map(_INSIDE.get, raw))
    if raw and raw[0][0].isupper():
        first = _LEADING.get(raw[0])
        found[0] = first if first is not None else _kept(_LEADING, raw[0], False)
    if None in found:
        for i, tok in enumerate(raw):
            if found[i] is None:
                found[i] = _kept(_INSIDE, tok, tok[0].isupper())
    return cast(list[Terms], found)  # no None left


def _kept(cache: dict[str, Terms], tok: str, proper: bool) -> Terms:
    terms = _token_terms(tok, proper)
    if len(cache) < WORD_CACHE:
        cache[tok] = terms
    return terms


def _token_terms(tok: str, proper: bool) -> Terms:
    """The terms of one word as written (a name's lemma when `proper`): none for a number or a word
    too short to tell anything, a Korean compound's syllable pairs weighing together as one word."""
    word = tok.casefold().replace("ё", "е")
    if word.isdigit() or len(word) < (2 if is_hangul(word) else 3):
        return ()
    pairs = _hangul_bigrams(lemma(word, proper=proper))
    weight = 1.0 / math.sqrt(len(pairs))
    return tuple((pair, weight) for pair in pairs)


def _hangul_bigrams(term: str) -> list[str]:
    """A Korean word of more than two syllables as its syllable pairs (내란전담재판부 -> 내란 란전 전담 담재
    재판 판부): Korean glues nouns into compounds and spaces them freely (내란재판부, 내란전담재판부; 전직무,
    전 직무), so reports of one event share pairs where they share no whole word. Other words as they are."""
    if len(term) <= 2 or not is_hangul(term):
        return [term]
    return [term[i : i + 2] for i in range(len(term) - 1)]


def item_terms(title: str, text: str) -> dict[str, float]:
    """The terms that identify an item's content, with their counts (a title word counts TITLE_WEIGHT)."""
    counts: dict[str, float] = {}
    _count_terms(title, TITLE_WEIGHT, counts)
    if text.strip() != title.strip():
        _count_terms(text, 1.0, counts, LEAD_WORDS)
    return counts


def item_term_keys(title: str, text: str) -> str:
    """`" ".join(item_terms(title, text))` without the counts: the terms an item that matched nothing is
    stored with."""
    keys: dict[str, object] = {}
    _add_keys(title, keys)
    if text.strip() != title.strip():
        _add_keys(text, keys, LEAD_WORDS)
    return " ".join(keys)


def encode_terms(terms: Mapping[str, float]) -> str:
    """Terms as stored: "term:count" pairs, most frequent first, at most MAX_STORY_TERMS."""
    top = sorted(terms.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_STORY_TERMS]
    return " ".join(f"{t}:{c:g}" for t, c in top)


def decode_terms(text: str | None) -> dict[str, float]:
    """Stored terms back to counts (a bare term counts once)."""
    out: dict[str, float] = {}
    for pair in (text or "").split():
        term, _, count = pair.rpartition(":")
        if term:
            out[term] = float(count)
        else:
            out[count] = 1.0
    return out


@lru_cache(maxsize=512)  # the candidate stories of an item: 100 per set of topics
def _decoded(text: str) -> Mapping[str, float]:
    return decode_terms(text)


def term_keys(text: str | None) -> list[str]:
    """The distinct terms of stored terms (`encode_terms`), without their counts."""
    if not text or ":" not in text:  # bare terms (an item that matched nothing): no counts to strip
        return (text or "").split()
    return [pair.rpartition(":")[0] or pair for pair in text.split()]


def merge_terms(a: Mapping[str, float], b: Mapping[str, float]) -> dict[str, float]:
    """The terms of a story after an item joins it."""
    out = dict(a)
    for term, count in b.items():
        out[term] = out.get(term, 0.0) + count
    return out
