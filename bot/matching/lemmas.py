"""Word keys from dictionaries: how a query word and a text word are found equal (pure, cached).

Both sides are reduced the same way, so any form of a query word finds any form in the text:

- Cyrillic: pymorphy3 with its Russian and Ukrainian dictionaries (і ї є ґ -> Ukrainian only; ы э ъ ->
  Russian only; otherwise every known parse in either). A text word is indexed under itself and the
  normal form of each parse the dictionaries know (северокорейских -> северокорейский, Пескова ->
  песков, песков -> песок and песков).
- Latin: simplemma's English and French dictionaries, the same way (troops -> troop, troupes ->
  troupe, nord-coréennes -> nord-coréen; accents are folded after lemmatising: coréen -> coreen).
- Hangul: particles and the plural 들 after a noun are removed (북한군은, 북한군이, 북한군들의 -> 북한군),
  leaving at least 2 syllables, so 북한 never matches 북한군. (kiwipiepy's analysis gives the same keys
  for these nouns but costs 1.9 s to load and 270 MB per process, measured in bench/lemma_bench.py.)

A query word written in a base form is looked up by that form only, so `песков` (a surname, and also
"of the sands") does not find песка, песку (sand); a query word in another form is looked up by its
lemmas (`военных` -> военный); a Cyrillic word is a base form only if it is one in every dictionary
that knows it (`сили` is looked up by сила too: a Ukrainian form of it, though Russian knows an
indeclinable сили). Words no dictionary knows (surnames, transliterations: Рютте, Peskov) fall back
to guarded ending rules on both sides: up to 3 letters of case endings (Cyrillic) or s/es (Latin),
leaving a stem of at least 4 letters, so Песковский stays apart from Песков and northern from north;
an unknown Cyrillic word is also looked up under the normal forms pymorphy3 predicts for it
(Зеленского -> зеленский: the dictionary knows the name but not that form). Every result is cached per word form: after warm-up a word costs one dict lookup. The analyses
are also kept in SQLite (storage.wordforms) and handed to the next process (`remember`), so a poll
that meets only words seen before loads no dictionary at all (they cost about 1.1 s and 100 MB to load).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from bot.matching.normalize import fold, is_cyrillic, is_hangul

_CYRILLIC_ENDINGS = sorted(
    {
        "а", "я", "у", "ю", "е", "ы", "и", "ом", "ем", "ой", "ей", "ою", "ею", "ым", "им", "ам", "ям",
        "ах", "ях", "ов", "ев", "ами", "ями", "ых", "их", "ого", "его", "ому", "ему", "і", "ї", "ів",
        "їв", "ові", "еві", "єві", "єю", "ої", "ій",
    },
    key=len,
    reverse=True,
)  # fmt: skip
_LATIN_ENDINGS = ["es", "s"]
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
_UK_ONLY = frozenset("іїєґ")
_RU_ONLY = frozenset("ыэъ")
LATIN_LANGS = ("en", "fr")
# Per-word caches hold the word forms met most recently: a news stream's vocabulary is mostly a few
# thousand words, and a form dropped is analysed again from `_known` or the stored forms, not lost.
WORD_CACHE = 50_000
MAX_KNOWN = 100_000  # word forms held in memory (a long-running process starts over past this)


@lru_cache(maxsize=2)
def _analyzer(lang: str) -> Any:
    """pymorphy3's analyzer for "ru" or "uk", loaded on first use (each takes 20-30 MB)."""
    import pymorphy3

    return pymorphy3.MorphAnalyzer(lang=lang)


def _strip(word: str, endings: list[str], min_stem: int) -> list[str]:
    return [word[: -len(e)] for e in endings if word.endswith(e) and len(word) - len(e) >= min_stem]


_PROPER_TAGS = frozenset({"Surn", "Name", "Patr", "Geox", "Orgn"})


def _cyrillic_lemmas(word: str) -> tuple[list[str], bool, str, list[str]]:
    """(normal forms of the known parses; whether the word is one of them in every dictionary that
    knows it, so `сили`, an indeclinable noun to the Russian dictionary and a form of сила to the
    Ukrainian one, is no base form; the normal form of the first parse that is a name, place or
    organisation or ""; for a word no dictionary knows, the normal forms the analyzers predict)."""
    letters = set(word)
    langs = ["uk"] if letters & _UK_ONLY else ["ru"] if letters & _RU_ONLY else ["ru", "uk"]
    lemmas: list[str] = []
    bases: list[bool] = []
    proper = ""
    guesses: list[str] = []
    for lang in langs:
        found: list[str] = []
        for parse in _analyzer(lang).parse(word):
            normal = parse.normal_form.replace("ё", "е")
            if not parse.is_known:
                guesses.append(normal)
                continue
            found.append(normal)
            if normal not in lemmas:
                lemmas.append(normal)
            if not proper and parse.tag.grammemes & _PROPER_TAGS:
                proper = normal
        if found:
            bases.append(word in found)
    guessed = [] if lemmas else [w for w in dict.fromkeys(guesses) if w != word]
    return lemmas, bool(bases) and all(bases), proper, guessed


def _latin_lemmas(word: str) -> tuple[list[str], bool, tuple[str, ...]]:
    """(lemmas from the English and French dictionaries, whether the word is one of them, the
    languages whose dictionary knows the word). simplemma's low-memory backend reads each dictionary
    from its compressed stream (about 3 MB in memory instead of 20-25 MB, the same answers, about
    50 us a word instead of 5: every word form is analysed once and then kept)."""
    import simplemma

    lemmas: list[str] = []
    is_base = False
    langs: list[str] = []
    for lang in LATIN_LANGS:
        if simplemma.is_known(word, lang, low_memory=True):
            langs.append(lang)
            lemma = simplemma.lemmatize(word, lang, low_memory=True).casefold()
            if lemma not in lemmas:
                lemmas.append(lemma)
            is_base = is_base or lemma == word
    return lemmas, is_base, tuple(langs)


# lemmas, is a base form, fallback stems, a name's lemma (Cyrillic), the languages that know it (Latin)
Analysis = tuple[tuple[str, ...], bool, tuple[str, ...], str, tuple[str, ...]]


def needs_dictionary(word: str) -> bool:
    """Whether a casefolded word's analysis comes from a dictionary (Cyrillic or Latin letters)."""
    return is_cyrillic(word) or (word.isalpha() and word[0] < "\u0250")


def _analyse_now(word: str) -> Analysis:
    if is_hangul(word):
        return (), False, tuple(_strip(word, _HANGUL_PARTICLES, MIN_HANGUL_STEM)), "", ()
    if is_cyrillic(word):
        lemmas, is_base, proper, guessed = _cyrillic_lemmas(word)
        stems = () if lemmas else tuple(_strip(word, _CYRILLIC_ENDINGS, MIN_STEM)) + tuple(guessed)
        return tuple(lemmas), is_base, stems, proper, ()
    if word.isalpha() and word[0] < "\u0250":
        latin, is_base, langs = _latin_lemmas(word)
        reduced = any(w != word for w in latin)
        return tuple(latin), is_base, () if reduced else tuple(_strip(word, _LATIN_ENDINGS, MIN_STEM)), "", langs
    return (), False, (), "", ()


_known: dict[str, Analysis] = {}  # every word form analysed or remembered in this process
_met_cyrillic = False  # a Cyrillic word has been analysed (or remembered) here
_fresh: dict[str, str] = {}  # analysed here from the dictionaries and not yet taken (`take_fresh`)


def encode_analysis(a: Analysis) -> str:
    """An analysis as stored: "lemmas|base|stems|name|languages" (a word is letters and digits only)."""
    return f"{' '.join(a[0])}|{int(a[1])}|{' '.join(a[2])}|{a[3]}|{' '.join(a[4])}"


def decode_analysis(text: str) -> Analysis:
    """A stored analysis back (`encode_analysis`)."""
    lemmas, base, stems, proper, langs = text.split("|")
    return tuple(lemmas.split()), base == "1", tuple(stems.split()), proper, tuple(langs.split())


_store: Callable[[str], str | None] | None = None


def use_store(lookup: Callable[[str], str | None] | None) -> None:
    """Where analyses kept by earlier processes are read (word -> `encode_analysis` or None): a word
    found there needs no dictionary."""
    global _store
    _store = lookup


@lru_cache(maxsize=1)
def generation() -> str:
    """What the analyses depend on: these rules (this file and normalize.py, whose script tests choose
    the rules) and the installed dictionaries, fingerprinted by the names and sizes of their packages'
    files (a stat of each: importlib.metadata would cost a `once` poll 70 ms to import)."""
    import hashlib
    import os
    from importlib.util import find_spec

    here = Path(__file__)
    parts = [here.read_bytes(), here.with_name("normalize.py").read_bytes()]
    for package in ("pymorphy3", "pymorphy3_dicts_ru", "pymorphy3_dicts_uk", "simplemma"):
        spec = find_spec(package)
        if spec is None or spec.origin is None:
            parts.append(b"-")
            continue
        root = Path(spec.origin).parent
        for folder, dirs, files in sorted(os.walk(root)):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for name in sorted(files):
                path = Path(folder, name)
                parts.append(f"{path.relative_to(root)}:{path.stat().st_size}".encode())
    return hashlib.sha256(b"\0".join(parts)).hexdigest()[:16]


def take_fresh() -> dict[str, str]:
    """The analyses made from the dictionaries since the last call (word -> `encode_analysis`), to store;
    only a process that reads stored analyses (`use_store`) keeps them: the bot's own process, matching
    /testquery against stored items, would otherwise hold every word it analysed."""
    global _fresh
    out, _fresh = _fresh, {}
    return out


def _analyse(word: str) -> Analysis:
    """(dictionary lemmas, is a base form, fallback stems, a name's lemma) of one casefolded word,
    remembered per word form: a dictionary is loaded only when a word it knows is first met."""
    global _met_cyrillic
    found = _known.get(word)
    if found is None:
        _met_cyrillic = _met_cyrillic or is_cyrillic(word)
        if len(_known) >= MAX_KNOWN:
            _known.clear()
        stored = _store(word) if _store is not None and needs_dictionary(word) else None
        if stored is not None:
            found = _known[word] = decode_analysis(stored)
        else:
            found = _known[word] = _analyse_now(word)
            if _store is not None and needs_dictionary(word):  # no store: no one takes them (`take_fresh`)
                _fresh[word] = encode_analysis(found)
    return found


def met_cyrillic() -> bool:
    """Whether this process has analysed a Cyrillic word: until it has, no word key it made (of a text
    or a query) is Cyrillic, and the Russian and Ukrainian dictionaries may not be loaded."""
    return _met_cyrillic


def _unique(words: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(words))


@lru_cache(maxsize=WORD_CACHE)
def text_keys(word: str) -> tuple[str, ...]:
    """The keys a text word is indexed under: its folded form first, then its lemmas or stems."""
    lemmas, _, stems, _, _ = _analyse(word)
    return _unique([fold(word)] + [fold(w) for w in lemmas + stems])


@lru_cache(maxsize=50_000)
def query_keys(word: str) -> tuple[str, ...]:
    """The keys a query word is looked up by: the word alone when it is a base form, else its lemmas."""
    lemmas, is_base, stems, _, _ = _analyse(word)
    if is_base:
        return _unique([fold(word)] + [fold(w) for w in stems])
    return _unique([fold(word)] + [fold(w) for w in lemmas + stems])


@lru_cache(maxsize=WORD_CACHE)
def lemma(word: str, proper: bool = False) -> str:
    """One key per word for comparing texts: the most likely lemma (a name's, when the word was
    capitalised in the text), else the shortest stem, else the word."""
    lemmas, _, stems, name, _ = _analyse(word)
    if proper and name:
        return name
    if lemmas:
        return fold(lemmas[0])
    stems = tuple(s for s in stems if word.startswith(s))  # the ending rules', not the predicted forms
    return fold(min(stems, key=len)) if stems else fold(word)


def name_reading(word: str) -> tuple[bool, str]:
    """(whether a dictionary knows a casefolded word, the lemma of its reading as a name, place or
    organisation or ""), from the same analysis matching uses (stored word forms first)."""
    lemmas, _, _, name, _ = _analyse(word)
    return bool(lemmas), name


def latin_languages(word: str) -> tuple[str, ...]:
    """Which of the English and French dictionaries know a casefolded Latin word."""
    return _analyse(word)[4]
