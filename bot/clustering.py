"""Stories are events: which recent story a new item reports, by weighted evidence (pure).

An item joins the best-scoring story of its topic seen in the last CLUSTER_WINDOW when the score
reaches THRESHOLD; otherwise it opens a story (same canonical URL and forwards are decided before,
in `bot.stories`). The score, in the tradition of streaming news clustering (TDT; Miranda et al.,
EMNLP 2018):

1. Terms (`bot.terms`): the dictionary lemma of each word of the title (counted TITLE_WEIGHT times) and of the
   lead's first LEAD_WORDS words (see `bot.matching.lemmas`), words of fewer than 3 letters left out;
   numbers normalised with their scale word (1,500 = 1 500 = 1500; "10 тысяч" = 10 000 = 1만; 4만5000 = 4.5만) into
   one term each. A Korean word of more than two syllables counts as its syllable pairs, together
   weighing one word (the usual indexing of Korean, whose compounds are written together or apart).
2. Weights: term count x inverse document frequency over the items the store has seen (`Vocabulary`,
   kept in SQLite; PRIOR_DOCS steadies a young store), so words every report uses count little and
   names, places and numbers most. The topic's own query terms count QUERY_TERM_WEIGHT of that: every
   item of the topic has them. Fewer than MIN_SHARED shared terms besides those is no evidence.
   When the item has two candidate stories or more, a term of it also found in n of the C candidates
   keeps 1 - n / (C + CANDIDATE_PRIOR) of its weight (`candidate_rarity`): what the topic's recent
   stories all say (a spokesman's title and name, the place of a running war) tells none of them
   apart, so the evidence that joins a story is what it shares with the item more than the others do.
3. Score: the weight the item and the story (the sum of its items' terms) hold in common, each term
   counted at the smaller of its two weights, over the geometric mean of their total weights
   (`shared_weight`), so a short headline does not join a long lead that merely contains its few
   words; x a time factor that halves every HALF_LIFE_H hours between the item and the story's latest
   item; x SAME_FEED_FACTOR, halving again every SAME_FEED_HALF_LIFE_H hours, when the story already
   holds an item of the same feed (an outlet updates its own report within hours, but its daily
   digests look alike a day apart).

The constants were set on real reports written by independent outlets (tests/test_stories_eval.py
reports BCubed precision, recall and F1 per language) and checked on hand-written statements of one
person (tests/test_eval.py): the shared weight alone joins more real reports than the cosine at the
same precision but also joins such statements; the candidates' rarity keeps them apart. An item that
joins no story in its language may join one in another by the numbers and names they share
(`bot.crosslang`, `StoryRules.choose_across`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import datetime, timedelta
from functools import lru_cache
from itertools import chain
from typing import TYPE_CHECKING

from bot.matching.lemmas import WORD_CACHE, latin_languages, lemma
from bot.matching.normalize import fold, is_cyrillic, is_hangul, words
from bot.matching.query import iter_terms, parse_query
from bot.models import Candidate, Topic
from bot.terms import LEAD_WORDS as LEAD_WORDS
from bot.terms import MAX_STORY_TERMS as MAX_STORY_TERMS
from bot.terms import TITLE_WEIGHT as TITLE_WEIGHT
from bot.terms import _decoded, _hangul_bigrams
from bot.terms import decode_terms as decode_terms
from bot.terms import encode_terms as encode_terms
from bot.terms import item_terms as item_terms
from bot.terms import merge_terms as merge_terms
from bot.terms import term_keys as term_keys

if TYPE_CHECKING:
    from bot.crosslang import TopicNames

CLUSTER_WINDOW = timedelta(hours=48)
THRESHOLD = 0.24
QUERY_TERM_WEIGHT = 0.2
SAME_FEED_FACTOR = 0.35
HALF_LIFE_H = 48.0
SAME_FEED_HALF_LIFE_H = 12.0
LANGUAGE_CHARS = 2000
PRIOR_DOCS = 50  # a young store: rarity is judged as if this many unrelated items had been seen
CANDIDATE_PRIOR = 0.5
BOUND_SLACK = 1 + 1e-9  # a bound is compared with this margin: rounding never passes over a tie
MIN_SHARED = 2  # one shared word besides the topic's is no evidence of one event


def query_term_keys(queries: Iterable[str], cyrillic: bool = True) -> frozenset[str]:
    """The lemmas of every term of these topic queries; a prefix* term as its prefix ending in "*".
    Without `cyrillic`, words written in Cyrillic are left out (their lemmas come from the Russian and
    Ukrainian dictionaries, and they can only ever equal Cyrillic terms)."""
    keys: set[str] = set()
    for query in queries:
        for term in iter_terms(parse_query(query)):
            for i, w in enumerate(term.words):
                if term.prefix and i == len(term.words) - 1:
                    keys.add(fold(w) + "*")
                    if len(w) > 2 and is_hangul(w):  # 러시아* covers the pairs 러시, 시아 of any longer word
                        keys.update(_hangul_bigrams(fold(w)))
                elif cyrillic or not is_cyrillic(w):
                    keys.update(_hangul_bigrams(lemma(w)))
    return frozenset(keys)


def topic_query_keys(topics: Iterable[Topic], cyrillic: bool = True) -> dict[str, frozenset[str]]:
    """Topic id -> the lemmas of its query's terms (`query_term_keys`)."""
    return {t.id: query_term_keys([t.query], cyrillic) for t in topics}


def _is_query_term(term: str, query_keys: frozenset[str]) -> bool:
    return term in query_keys or term.startswith(_prefixes(query_keys))


@lru_cache(maxsize=1024)
def _prefixes(query_keys: frozenset[str]) -> tuple[str, ...]:
    """The prefix* keys of a set of query keys, without their "*" (cached per set: every item asks)."""
    return tuple(k[:-1] for k in query_keys if k.endswith("*"))


Idf = Callable[[str], float]


class _Weigher:
    """The weight of one occurrence of a term (idf x its share among the candidates x the query-term
    factor), remembered per term in `known`: the candidates of one item share most of their words."""

    def __init__(self, idf: Idf, query_keys: frozenset[str], kept: Mapping[str, float]) -> None:
        self.idf, self.query_keys, self.kept = idf, query_keys, kept
        self.known: dict[str, float] = {}

    def __call__(self, term: str) -> float:
        w = self.known.get(term)
        if w is None:
            factor = QUERY_TERM_WEIGHT if _is_query_term(term, self.query_keys) else 1.0
            w = self.known[term] = self.idf(term) * self.kept.get(term, 1.0) * factor
        return w


def shared_weight(a: Mapping[str, float], b: Mapping[str, float], weigh: _Weigher | None = None) -> float:
    """The weight two weight vectors hold in common (each term at the smaller of its two weights) over
    the geometric mean of their totals: 1 for equal vectors, 0 when they share nothing or either is
    empty. Unlike a cosine, which squares weights, a term counts in proportion to its weight, so the
    few rare words two reports share are not drowned by the longer one's heaviest words, and a term
    repeated by every item of a story counts no more than the item's own use of it. With `weigh`, `b`
    holds counts, each weighed as it is read (one pass over a story's terms, no vector built)."""
    total = common = 0.0
    known = weigh.known if weigh is not None else {}
    for t, c in b.items():
        if weigh is not None:
            w = known.get(t)
            c *= weigh(t) if w is None else w
        total += c
        mine = a.get(t)
        if mine is not None:
            common += mine if mine < c else c
    if not common:
        return 0.0
    return common / math.sqrt(sum(a.values()) * total)


def time_factor(at: datetime | None, other: datetime | None, half_life_h: float = HALF_LIFE_H) -> float:
    """Halves every `half_life_h` hours between two reports (1 when a time is unknown)."""
    if at is None or other is None:
        return 1.0
    hours = abs((at - other).total_seconds()) / 3600
    return float(0.5 ** (hours / half_life_h))


def score(
    terms: Mapping[str, float], at: datetime | None, story: Candidate, idf: Idf, query_keys: frozenset[str] = frozenset()
) -> float:
    """How strongly the evidence says the item reports the story's event (0..1); 0 when they share
    fewer than MIN_SHARED terms besides the topic's own. (The story alone: `choose_story` also weighs
    each term by its rarity among the other candidates.)"""
    weigh = _Weigher(idf, query_keys, {})
    own = {t for t in terms if not _is_query_term(t, query_keys)}
    return _score({t: c * weigh(t) for t, c in terms.items()}, own, at, story, weigh)


def _score(item: Mapping[str, float], own: AbstractSet[str], at: datetime | None, story: Candidate, weigh: _Weigher) -> float:
    if len(own & story.terms.keys()) < MIN_SHARED:
        return 0.0
    return shared_weight(item, story.terms, weigh) * _factor(at, story)


def _factor(at: datetime | None, story: Candidate) -> float:
    """The time factor of a story for an item at `at`, with the same feed's factor when it applies."""
    factor = time_factor(at, story.last_at)
    if story.same_feed:
        factor *= SAME_FEED_FACTOR * time_factor(at, story.last_at, SAME_FEED_HALF_LIFE_H)
    return factor


def candidate_rarity(terms: Mapping[str, float], candidates: Sequence[Candidate]) -> dict[str, float]:
    """The share of its weight each term of the item keeps when it is also in n of the C candidate
    stories: 1 - n / (C + CANDIDATE_PRIOR) (terms in no candidate are left out: they keep it all).
    A single candidate leaves every term whole: there is nothing to tell it apart from."""
    return _rarity([terms.keys() & story.terms.keys() for story in candidates])


def _rarity(shared: Sequence[AbstractSet[str]]) -> dict[str, float]:
    """`candidate_rarity` from the terms the item shares with each candidate."""
    if len(shared) < 2:
        return {}
    spread = len(shared) + CANDIDATE_PRIOR
    return {t: 1.0 - n / spread for t, n in Counter(chain.from_iterable(shared)).items()}


def choose_story(
    terms: Mapping[str, float],
    at: datetime | None,
    candidates: Sequence[Candidate],
    idf: Idf,
    query_keys: frozenset[str] = frozenset(),
    threshold: float = THRESHOLD,
) -> int | None:
    """The id of the best-scoring candidate at or above the threshold, or None (a new story); of
    candidates scoring alike, the one listed last.

    A candidate is scored in full only when it could reach the best score so far: the shared weight
    is at most the square root of the share of the item's weight in the terms the two share (the
    common weight is at most that part of the item's total, and at most the story's total). The
    candidates are scored in descending order of that bound, so the first whose bound is below the
    best score ends the search: a story sharing only the words every candidate has (weighed down by
    `candidate_rarity`) costs one set intersection and one sum."""
    mine = set(terms)
    shared_terms = [mine.intersection(story.terms) for story in candidates]
    weigh = _Weigher(idf, query_keys, _rarity(shared_terms))
    query = mine.intersection(query_keys) if not _prefixes(query_keys) else {t for t in mine if _is_query_term(t, query_keys)}
    item = {t: c * weigh(t) for t, c in terms.items()}
    total = sum(item.values())
    if not total:
        return None
    weight_of = item.__getitem__
    bounds = []
    for i, (story, shared) in enumerate(zip(candidates, shared_terms, strict=True)):
        if len(shared) - len(shared & query) >= MIN_SHARED:
            factor = _factor(at, story)
            bounds.append((math.sqrt(sum(map(weight_of, shared)) / total) * factor, i, factor))
    bounds.sort(reverse=True)
    best, best_score = -1, threshold
    for bound, i, factor in bounds:
        if bound * BOUND_SLACK < best_score:
            break  # every later bound is lower still
        s = shared_weight(item, candidates[i].terms, weigh) * factor
        if s > best_score or (s == best_score and i > best):
            best, best_score = i, s
    return candidates[best].story_id if best >= 0 else None


class Vocabulary:
    """Document frequencies of terms over the items seen: the rarer a term, the more it says."""

    def __init__(self, n_docs: int = 0, df: Mapping[str, int] | None = None) -> None:
        self.n_docs = n_docs
        self.df: dict[str, int] = dict(df or {})

    def add(self, terms: Iterable[str]) -> None:
        """Count one more item with these terms."""
        self.n_docs += 1
        for t in set(terms):
            self.df[t] = self.df.get(t, 0) + 1

    def idf(self, term: str) -> float:
        """Smoothed inverse document frequency (a term in every item weighs about 0)."""
        return math.log((self.n_docs + PRIOR_DOCS) / (self.df.get(term, 0) + 0.5))


@lru_cache(maxsize=WORD_CACHE)
def _word_language(word: str) -> str:
    if is_hangul(word):
        return "ko"
    if "\u0400" <= word[0] <= "\u04ff":
        letters = set(word)
        return "uk" if letters & set("іїєґ") else "ru" if letters & set("ыэъ") else "cyrillic"
    if word.isalpha() and word[0] < "\u0250" and len(word) > 2:
        langs = latin_languages(word)
        return langs[0] if len(langs) == 1 else ""
    return ""


def item_language(title: str, text: str) -> str:
    """The language most of an item's telling words belong to (ko, uk, ru, en, fr), or ""."""
    head = f"{title} {text[:LANGUAGE_CHARS]}"  # the words voting are the first 80: no need to read them all
    return words_language(words(head))


def words_language(item_words: Sequence[str]) -> str:
    """`item_language` of an item's words (`normalize.words` of its title, then its text)."""
    votes = Counter(lang for w in item_words[:80] if (lang := _word_language(w)))
    cyrillic = votes["uk"] + votes["ru"] + votes["cyrillic"]
    if cyrillic and cyrillic >= votes["en"] + votes["fr"]:
        return "uk" if votes["uk"] > votes["ru"] else "ru"
    del votes["cyrillic"]
    return votes.most_common(1)[0][0] if votes else ""


class StoryRules:
    """The clustering rules in the shape storage asks for (`storage.stories.Clusterer`), knowing the
    topics' queries so that their own words count little."""

    window = CLUSTER_WINDOW

    def __init__(self, topics: Iterable[Topic] = (), topic_keys: Mapping[str, frozenset[str]] | None = None) -> None:
        """`topic_keys` (topic id -> `topic_query_keys`) may come from a process that has the lemma
        dictionaries loaded already; without it they are taken here."""
        self._queries = {t.id: t.query for t in topics}
        # (topic keys, per set of topics their union): replaced whole, read once per call
        self._state: tuple[dict[str, frozenset[str]] | None, dict[tuple[str, ...], frozenset[str]]] = (
            dict(topic_keys) if topic_keys is not None else None,
            {},
        )
        self._names: TopicNames | None = None  # made on first use

    def use_keys(self, topic_keys: Mapping[str, frozenset[str]]) -> None:
        """Replace the topics' query keys (safe while the database thread reads them: a read sees the
        old keys or the new ones, never a mix)."""
        self._state = (dict(topic_keys), {})

    def query_keys(self, topic_ids: Sequence[str]) -> frozenset[str]:
        """The query terms of these topics (cached per set of topics)."""
        topic_keys, cache = self._state
        key = tuple(sorted(topic_ids))
        found = cache.get(key)
        if found is None:
            if topic_keys is not None:
                found = frozenset().union(*(topic_keys.get(t, frozenset()) for t in key))
            else:
                found = query_term_keys(self._queries[t] for t in key if t in self._queries)
            cache[key] = found
        return found

    def choose(
        self, terms: Mapping[str, float], at: datetime | None, candidates: Sequence[Candidate], idf: Idf, topics: Sequence[str]
    ) -> int | None:
        """The story the item reports, or None."""
        return choose_story(terms, at, candidates, idf, self.query_keys(topics))

    def choose_across(
        self, anchors: str, at: datetime | None, candidates: Sequence[tuple[int, str, datetime | None]], topics: Sequence[str]
    ) -> int | None:
        """The story in another language the item reports (`bot.crosslang`), or None; never for an
        item of a personal watch, whose own names are not known here."""
        from bot import crosslang  # imported when first needed: anyascii and the name rules

        if any(t not in self._queries for t in topics):
            return None
        if self._names is None:
            self._names = crosslang.TopicNames(self._queries)
        return crosslang.choose_stored(anchors, at, candidates, self._names.own(topics))

    def decode(self, text: str | None) -> Mapping[str, float]:
        """Stored terms back to counts (cached: a candidate story is read for every item of its topic)."""
        return _decoded(text or "")

    def encode(self, terms: Mapping[str, float]) -> str:
        """Terms as stored."""
        return encode_terms(terms)

    def keys(self, text: str | None) -> list[str]:
        """The distinct terms of stored terms."""
        return term_keys(text)
