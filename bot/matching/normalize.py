"""Text normalisation shared by queries and items (pure).

Rules, in order: Unicode NFKC; casefold; ё -> е; accents removed from Latin letters only (Corée =
coree; Cyrillic й and ї and Hangul syllables are left whole); tokens are runs of letters and digits,
so hyphens, apostrophes and punctuation separate words (nord-coréen = nord coréen); in Korean text so
does a change between Hangul and Hanja or Latin letters (北파병 = 北 파병, KTX와 = KTX 와).

`words` keeps the accents (dictionaries need them: coréennes -> coréen); `fold` removes them from a
word or lemma afterwards, so keys compare as `tokenize` would.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    decomposed = unicodedata.normalize("NFD", ch)
    base = "".join(c for c in decomposed if not unicodedata.combining(c))
    return base or ch


def _casefold(text: str) -> str:
    """Casefold, ё -> е, and the dotted capital İ as i (casefold writes it i + a combining dot, which
    would split İstanbul into two words)."""
    return text.casefold().replace("ё", "е").replace("i\u0307", "i")


def normalize_text(text: str) -> str:
    """NFKC + casefold + ё->е + Latin accent folding."""
    return fold(_casefold(unicodedata.normalize("NFKC", text)))


def fold(word: str) -> str:
    """Latin accent folding of one casefolded word (coréen -> coreen)."""
    if word.isascii():
        return word
    return "".join(_fold_char(c) if "\u00c0" <= c <= "\u024f" or "\u1e00" <= c <= "\u1eff" else c for c in word)


# Korean writes particles straight after a Hanja abbreviation or a Latin name (北파병, KTX와, IBM이):
# a change between Hangul and Hanja or Latin letters is a word boundary.
_SCRIPT_CHANGE = re.compile(r"(?<=[\u4e00-\u9fffA-Za-z])(?=[\uac00-\ud7a3])|(?<=[\uac00-\ud7a3])(?=[\u4e00-\u9fffA-Za-z])")


_HANGUL = re.compile(r"[\uac00-\ud7a3]")


def split_scripts(text: str) -> str:
    """The text with a space where Hangul meets Hanja or Latin letters (KTX와 -> KTX 와)."""
    if not _HANGUL.search(text):  # one pass in C instead of lookbehinds at every position
        return text
    return _SCRIPT_CHANGE.sub(" ", text)


# In ASCII text NFKC and split_scripts change nothing, casefold is lower(), and the tokens are the runs
# of ASCII letters and digits: a byte table that turns every other character into a space (and, for
# `words`, capitals into small letters) and str.split find them several times faster than the regex.
_ASCII_GAPS = bytes(c if chr(c).isalnum() else 32 for c in range(128)) + bytes(range(128, 256))
_ASCII_LOWER_GAPS = _ASCII_GAPS.translate(bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"abcdefghijklmnopqrstuvwxyz"))


def ascii_tokens(text: str) -> list[str]:
    """`_TOKEN.findall(text)` of an ASCII text."""
    return text.encode().translate(_ASCII_GAPS).decode().split()


def words(text: str) -> list[str]:
    """Casefolded word tokens of `text`, accents kept (NFKC, casefold, ё -> е); in Korean text a Hanja
    abbreviation or a Latin name is a word of its own (北파병 = 北 파병, KTX와 = KTX 와)."""
    if text.isascii():
        return text.encode().translate(_ASCII_LOWER_GAPS).decode().split()
    return unicode_words(text)


def unicode_words(text: str) -> list[str]:
    """`words` by the rules for any text (`words` takes a shorter way through ASCII text)."""
    return _TOKEN.findall(split_scripts(_casefold(unicodedata.normalize("NFKC", text))))


def word_case(word: str) -> str:
    """How a word is written: "upper" (two capitals or more, no small letter: US, ПЕСКОВ), "capital"
    (a first capital: Песков, Rutte), "lower" (a first small letter), or "" (a script without case,
    or no letter at all)."""
    cased = [c for c in word if c.isupper() or c.islower()]
    if not cased:
        return ""
    if len(cased) > 1 and all(c.isupper() for c in cased):
        return "upper"
    return "capital" if cased[0].isupper() else "lower"


def word_cases(text: str) -> list[str]:
    """How each word of `words(text)` is written in `text` (`word_case`), in the same order."""
    out: list[str] = []
    for tok in _TOKEN.findall(split_scripts(unicodedata.normalize("NFKC", text))):
        case = word_case(tok)
        out.extend([case] * len(_TOKEN.findall(_casefold(tok))))
    return out


def tokenize(text: str) -> list[str]:
    """Normalised word tokens of `text`, in order."""
    return _TOKEN.findall(normalize_text(text))


def is_hangul(token: str) -> bool:
    """True when the token starts with a Hangul syllable."""
    return bool(token) and "\uac00" <= token[0] <= "\ud7a3"


def is_cyrillic(token: str) -> bool:
    """True when the token starts with a Cyrillic letter."""
    return bool(token) and "\u0400" <= token[0] <= "\u04ff"
