"""Evidence that two reports in different languages tell one event (pure).

Reports in different languages share no words, only what is written the same in any language:

- numbers, normalised as story terms are (`bot.numbers`: 1,500 = 1 500 = 1500; "10 тысяч" = 10 000 = 1만),
  years and numbers under MIN_NUMBER left out (every report of a month has its year, many a 2 or 3);
- names written in Latin letters: in Korean or Cyrillic text any Latin word (IBM, KTX, H200), in
  English or French text a word written with a capital inside a sentence, in capitals or with digits;
- names in Cyrillic letters (a capitalised word that no dictionary knows, or that one calls a surname,
  place or organisation), transliterated with anyascii, and every name compared by its first letter
  and consonant classes (Зеленский, Zelensky and Зеленський are one anchor);
- names in Hangul that transliterate a foreign name (a syllable of ㅡ with no final consonant marks
  one: 트럼프, 젤렌스키, 이스라엘), their particles taken off, romanised with anyascii and compared
  the same way (트럼프 = Trump);
- names the topics' queries spell in several scripts: an OR of single words in different scripts
  (`rutte OR рютте OR 뤼터`) says they are one name, so any of them in a report is that name.

An anchor that is a term of the topic's own query says nothing (every item of the topic has it).
An item that joins no story in its language joins the recent story of its topic in another language
with which it shares the most anchors, at least MIN_SHARED of them besides those, within WINDOW_H
hours. On the labelled sets every pair of reports in different languages that shares two did report
one event (tests/test_stories_eval.py); such pairs are rare, so most events still make one story
per language.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from anyascii import anyascii

from bot.matching.lemmas import lemma, name_reading, text_keys
from bot.matching.normalize import fold, is_cyrillic, is_hangul, split_scripts
from bot.matching.query import Node, Or, Term, iter_terms, parse_query
from bot.numbers import take_numbers

MIN_NUMBER = 10
LEAD_CHARS = 600  # the anchors of an item are read from its title and the start of its lead
_YEAR = re.compile(r"#(19|20)\d\d")
_SENTENCE_WORD = re.compile(r"(^|[.!?:;«»\"“”()\[\]]\s*|\n)?([^\W_]+)")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
LATIN_LANGS = frozenset({"en", "fr"})

Aliases = Mapping[str, str]  # a folded word, or a prefix ending in "*" -> the name it is one spelling of


def _script(word: str) -> str:
    if is_hangul(word):
        return "hangul"
    if is_cyrillic(word):
        return "cyrillic"
    return "latin" if _LATIN.match(word) else "other"


def _or_groups(node: Node) -> Iterable[Or]:
    if isinstance(node, Or):
        yield node
    for child in getattr(node, "children", ()):
        yield from _or_groups(child)
    for attr in ("child", "left", "right"):
        if (sub := getattr(node, attr, None)) is not None:
            yield from _or_groups(sub)


def alias_groups(queries: Iterable[str]) -> dict[str, str]:
    """Word (or "prefix*") -> name, from every OR of the queries whose single-word terms are written
    in two scripts or more; the name is the group's first Latin word (else its first word)."""
    out: dict[str, str] = {}
    for query in queries:
        for group in _or_groups(parse_query(query)):
            singles = [c for c in group.children if isinstance(c, Term) and len(c.words) == 1 and c.field is None]
            spellings = {fold(t.words[0]) for t in singles}  # rutte and {Rutte*} are one spelling
            scripts = [_script(w) for w in spellings]
            if len(set(scripts)) < 2 or len(set(scripts)) < len(scripts):  # one spelling per script, or not one name
                continue
            latin = [t for t in singles if _script(t.words[0]) == "latin"]
            name = fold((latin or singles)[0].words[0])
            for t in singles:
                out[fold(t.words[0]) + ("*" if t.prefix else "")] = name
    return out


def own_names(queries: Iterable[str], aliases: Aliases) -> frozenset[str]:
    """The names (alias values) and words that are terms of these queries, as anchors: no evidence
    for items of those topics (read without the lemma dictionaries: a query names in base forms)."""
    found: set[str] = set()
    for query in queries:
        for term in iter_terms(parse_query(query)):
            for w in term.words:
                key = fold(w) + ("*" if term.prefix and w == term.words[-1] else "")
                name = aliases.get(key, fold(w))
                found.add(name_anchor(anyascii(name).casefold() if is_cyrillic(name) else name))
    return frozenset(found)


def _prefixes(aliases: Aliases) -> tuple[tuple[str, str], ...]:
    return tuple((k[:-1], v) for k, v in aliases.items() if k.endswith("*"))


WORD_READINGS = 20_000  # words kept per alias table (`_Table.readings`); a word met later is read again

# What one word as written says as an anchor (`_reading`): whether it is a name that takes a preceding
# Cyrillic name's place, the Cyrillic name it leaves pending, and the anchor it adds (or None).
_Reading = tuple[bool, str, str | None]


class _Table:
    """The topics' aliases, their prefixes, and the reading of each word met so far under them: a word's
    reading depends only on the word, whether a sentence starts before it and the item's script."""

    def __init__(self, items: tuple[tuple[str, str], ...]) -> None:
        self.aliases = dict(items)
        self.prefixes = _prefixes(self.aliases)
        self.readings: dict[tuple[str, bool, bool], _Reading] = {}


@lru_cache(maxsize=64)
def _table(items: tuple[tuple[str, str], ...]) -> _Table:
    return _Table(items)


def _alias_of(word: str, aliases: Aliases, prefixes: tuple[tuple[str, str], ...]) -> str | None:
    for key in text_keys(word) if (is_cyrillic(word) or is_hangul(word) or word.isalpha()) else (fold(word),):
        if key in aliases:
            return aliases[key]
    folded = fold(word)
    for prefix, name in prefixes:
        if folded.startswith(prefix):
            return name
    return None


def _reading(raw: str, sentence_start: bool, latin_text: bool, table: _Table) -> _Reading:
    word = raw.casefold().replace("ё", "е")
    name = _alias_of(word, table.aliases, table.prefixes) if table.aliases else None
    script = _script(raw)
    cyrillic_name = name is None and script == "cyrillic" and _is_latin_name(raw, sentence_start) and _is_cyrillic_name(word)
    pending = name_anchor(_latin(word)) if cyrillic_name else ""
    add: str | None = None
    if name is not None:
        add = name_anchor(name)
    elif script == "hangul":
        add = _hangul_name(word) or None
    elif script == "latin" and len(raw) > 1 and (not latin_text or _is_latin_name(raw, sentence_start)):
        add = name_anchor(fold(word))
    return name is not None or cyrillic_name, pending, add


def anchors(title: str, text: str, lang: str, aliases: Aliases = {}) -> frozenset[str]:  # noqa: B006 (read only)
    """The language-independent anchors of an item: "#1500" numbers, "@name" names."""
    head = unicodedata.normalize("NFKC", f"{title}\n{text[:LEAD_CHARS]}")
    rest, numbers = take_numbers(head)
    found = {n for n in numbers if not _YEAR.fullmatch(n) and _value(n) >= MIN_NUMBER}
    latin_text = lang in LATIN_LANGS
    table = _table(tuple(sorted(aliases.items())))
    readings = table.readings
    body = split_scripts(rest)
    pending = ""  # a Cyrillic name, kept unless a name follows it (Марк Рютте, Андрея Ермака: the surname)
    last_end = 0
    for m in _SENTENCE_WORD.finditer(body):
        start, raw = m.groups()
        key = (raw, start is not None, latin_text)
        reading = readings.get(key)
        if reading is None:
            reading = _reading(raw, start is not None, latin_text, table)
            if len(readings) < WORD_READINGS:
                readings[key] = reading
        joins, next_pending, add = reading
        if pending and not (joins and not body[last_end : m.start(2)].strip()):
            found.add(pending)
        pending, last_end = next_pending, m.end(2)
        if add is not None:
            found.add(add)
    if pending:
        found.add(pending)
    return frozenset(found)


_CLASSES = str.maketrans({**{c: k for c, k in zip("bfvcqgzxdl", "ppkkkssstr", strict=True)}, **{c: None for c in "aeiouyhw'"}})


# First letters Korean or Cyrillic write otherwise: Confluent = 콘플루언트 = Конфлюент, Zelensky = 젤렌스키 (Jelenseuki)
_FIRST = {"c": "k", "q": "k", "z": "j"}


def name_anchor(latin: str) -> str:
    """One anchor for a name in Latin letters, the same for its transliterations from Cyrillic and
    Hangul: the first letter (`_FIRST`) and the consonants after it by sound class (Zelensky,
    Zelenskiy, Zelens'kyi, 젤렌스키 -> jrnsk); a name with fewer than two consonants after its first
    letter as it is written (AI, NATO)."""
    word = re.sub(r"[^a-z0-9]", "", latin)
    word = _FIRST.get(word[:1], word[:1]) + word[1:]
    rest = re.sub(r"(.)\1+", r"\1", word[1:].translate(_CLASSES))
    return "@" + (word[0] + rest if len(rest) >= 2 and word.isalpha() else word)


def _latin(word: str) -> str:
    """A casefolded word in Latin letters (a Cyrillic one by its name's lemma, transliterated)."""
    return anyascii(lemma(word, proper=True)).casefold() if is_cyrillic(word) else fold(word)


@lru_cache(maxsize=50_000)
def _is_cyrillic_name(word: str) -> bool:
    """Whether a capitalised Cyrillic word names someone or something: a word no dictionary knows (a
    transliterated name: Рютте, Столтенберга) or one a dictionary knows as a name, place or
    organisation (Єрмак, Украины, НАТО); not a capitalised common noun (Офис президента). The
    analysis is the one matching uses (stored word forms first), so no dictionary is loaded for it."""
    known, proper = name_reading(word)
    return len(word) >= 3 and (not known or bool(proper))


def _is_loan_syllable(ch: str) -> bool:
    """A syllable of the vowel ㅡ with no final consonant (스, 트, 프, 크, 르 ...): Korean writes the
    consonant clusters and final consonants of foreign words so (트럼프 Trump, 젤렌스키 Zelensky), and
    seldom its own words."""
    code = ord(ch) - 0xAC00
    return 0 <= code < 11172 and (code // 28) % 21 == 18 and code % 28 == 0


@lru_cache(maxsize=50_000)
def _hangul_name(word: str) -> str:
    """The anchor of a Korean word that transliterates a foreign name (`_is_loan_syllable`), its
    particles taken off, by its romanisation's consonants (트럼프는 -> teureompeu -> @trmp = Trump);
    "" for other words."""
    base = min((k for k in text_keys(word) if len(k) >= 2 and is_hangul(k)), key=len, default="")
    if not any(_is_loan_syllable(c) for c in base):
        return ""
    return name_anchor(anyascii(base).casefold())


def _is_latin_name(raw: str, sentence_start: bool) -> bool:
    """A word in Latin text that names something: digits or capitals inside it (H200, NATO, McDonald),
    or a capital first letter where a sentence does not start."""
    if any(c.isdigit() for c in raw) or sum(c.isupper() for c in raw) > 1:
        return True
    return raw[:1].isupper() and not sentence_start


def _value(number: str) -> float:
    try:
        return float(number[1:])
    except ValueError:
        return 0.0


def shared(a: Iterable[str], b: frozenset[str], own: frozenset[str] = frozenset()) -> int:
    """How many anchors two items (or an item and a story) share, the topic's own names left out."""
    return sum(1 for x in a if x in b and x not in own)


def within_hours(at: datetime | None, other: datetime | None, hours: float) -> bool:
    """Whether two reports are at most `hours` apart (true when a time is unknown)."""
    return at is None or other is None or abs((at - other).total_seconds()) <= hours * 3600


MIN_SHARED = 2  # one shared number or name joins reports of different events (measured in tests/test_stories_eval.py)
WINDOW_H = 48.0


@dataclass(frozen=True)
class Across:
    """A recent story in another language that an item may join: its anchors and latest report."""

    story_id: int
    anchors: frozenset[str]
    last_at: datetime | None


def choose_across(
    item_anchors: frozenset[str], at: datetime | None, candidates: Iterable[Across], own: frozenset[str] = frozenset()
) -> int | None:
    """The story in another language sharing the most anchors with the item (at least MIN_SHARED,
    the topic's own names left out, within WINDOW_H hours; the latest on a tie), or None."""
    best: tuple[int, datetime | None] | None = None
    best_id = None
    for story in candidates:
        if not within_hours(at, story.last_at, WINDOW_H):
            continue
        n = shared(item_anchors, story.anchors, own)
        if n < MIN_SHARED:
            continue
        if (
            best is None
            or n > best[0]
            or (
                n == best[0]
                and (story.last_at or datetime.min.replace(tzinfo=UTC)) > (best[1] or datetime.min.replace(tzinfo=UTC))
            )
        ):
            best, best_id = (n, story.last_at), story.story_id
    return best_id


def encode_anchors(found: Iterable[str]) -> str:
    """Anchors as stored: space-separated, sorted."""
    return " ".join(sorted(set(found)))


class TopicNames:
    """The topics' names in several scripts (`alias_groups`) and each topic's own names (`own_names`)."""

    def __init__(self, queries: Mapping[str, str]) -> None:
        self.queries = dict(queries)
        self.aliases = alias_groups(self.queries.values())
        self._own: dict[tuple[str, ...], frozenset[str]] = {}

    def own(self, topic_ids: Iterable[str]) -> frozenset[str]:
        """The own names of these topics (cached per set of topics)."""
        key = tuple(sorted(set(topic_ids)))
        if key not in self._own:
            self._own[key] = own_names((self.queries[t] for t in key if t in self.queries), self.aliases)
        return self._own[key]


def choose_stored(
    item_anchors: str, at: datetime | None, candidates: Iterable[tuple[int, str, datetime | None]], own: frozenset[str]
) -> int | None:
    """`choose_across` on stored anchors (`encode_anchors`): candidates as (story id, anchors, last seen)."""
    mine = frozenset(item_anchors.split())
    return choose_across(mine, at, (Across(i, frozenset(a.split()), last) for i, a, last in candidates), own)
