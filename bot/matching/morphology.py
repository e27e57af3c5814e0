"""Word keys: how a query word and a text word are found equal (pure).

A query word is looked up as written (normalised). A text word is indexed under itself and under
each form it takes with one inflection ending removed, so the query's base form finds its inflected
forms and nothing longer:

- Cyrillic (Russian, Ukrainian): case and number endings of up to 3 letters (Пескова, Пескову,
  Песковым, Пєскова -> песков / пєсков), leaving a stem of at least 4 letters. Derived words keep
  their suffix (Песковский is not Песков).
- Latin (English, French): plural and gender endings s, es, e, ne, nes (troops -> troop,
  nord-coréennes -> coreen), leaving at least 4 letters.
- Hangul: particles and the plural 들 after a noun (북한군은, 북한군이, 북한군들의 -> 북한군), leaving at
  least 2 syllables, so a one-syllable query word never matches inside longer words.

Suffix rules rather than Snowball stemmers (measured by bench/stemmer_compare.py): on the 155
evaluation headlines both score the same, but on the inflection table of tests/test_matching.py the
rules get 22 of 22 and Snowball 15 (English) or 17 (French): the Russian stemmer keys песков as
"песк", so Пескова, Пескову, Песковым (stem "песков") are missed while песка, песку (sand) are found.
Snowball also has no Ukrainian and no Korean.
"""

from __future__ import annotations

from functools import lru_cache

from bot.matching.normalize import is_cyrillic, is_hangul

_CYRILLIC_ENDINGS = sorted(
    {
        # Russian nouns, adjectives, surnames in -ов/-ев/-ин
        "а", "я", "у", "ю", "е", "ы", "и", "ом", "ем", "ой", "ей", "ою", "ею", "ым", "им", "ам", "ям",
        "ах", "ях", "ов", "ев", "ами", "ями", "ых", "их", "ого", "его", "ому", "ему", "ая", "яя",
        "ое", "ее", "ые", "ие", "ую", "юю", "ыми", "ими", "ый", "ий",
        # Ukrainian
        "і", "ї", "ів", "їв", "ові", "еві", "єві", "єю", "ої", "ій",
    },
    key=len,
    reverse=True,
)  # fmt: skip
_LATIN_ENDINGS = ["nes", "es", "ne", "s", "e"]
_HANGUL_PARTICLES = sorted(
    {
        "은", "는", "이", "가", "을", "를", "의", "에", "와", "과", "도", "만", "로", "으로", "에서", "에게",
        "께", "까지", "부터", "보다", "처럼", "이다", "이라", "라고", "이라고", "과의", "와의", "에는",
        "에서는", "으로는", "로는", "들", "들이", "들은", "들을", "들의", "들과", "들도", "들에", "들에게",
        "측", "측은", "측이", "측의",
    },
    key=len,
    reverse=True,
)  # fmt: skip
MIN_STEM = 4
MIN_HANGUL_STEM = 2


def term_key(word: str) -> str:
    """The key a query word is looked up by: the word itself."""
    return word


@lru_cache(maxsize=65536)
def token_keys(token: str) -> tuple[str, ...]:
    """The keys a text word is indexed under: itself, then its forms with one ending removed."""
    if is_hangul(token):
        endings, min_stem = _HANGUL_PARTICLES, MIN_HANGUL_STEM
    elif is_cyrillic(token):
        endings, min_stem = _CYRILLIC_ENDINGS, MIN_STEM
    elif token.isascii() and token.isalpha():
        endings, min_stem = _LATIN_ENDINGS, MIN_STEM
    else:
        return (token,)
    keys = [token]
    for ending in endings:
        if token.endswith(ending) and len(token) - len(ending) >= min_stem:
            stem = token[: -len(ending)]
            if stem not in keys:
                keys.append(stem)
    return tuple(keys)


def prefix_key(key: str) -> str:
    """The key a prefix* query word is looked up by."""
    return key
