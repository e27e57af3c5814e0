"""Numbers as terms that compare across outlets and languages (pure): 1,500 = 1 500 = 1500,
"10 тысяч" = 10 000 = 1만, 4만5000 = 45 000. Story terms (`bot.clustering`) and the anchors that join
stories across languages (`bot.crosslang`) read numbers this way.
"""

from __future__ import annotations

import re
from functools import lru_cache

_SCALES = {
    "thousand": 1e3, "mille": 1e3, "тыс": 1e3, "тысяч": 1e3, "тысячи": 1e3, "тысяча": 1e3, "тисяч": 1e3,
    "тисячі": 1e3, "тисяча": 1e3, "천": 1e3, "만": 1e4, "million": 1e6, "millions": 1e6, "млн": 1e6,
    "миллион": 1e6, "миллиона": 1e6, "миллионов": 1e6, "мільйон": 1e6, "мільйона": 1e6, "мільйонів": 1e6,
    "billion": 1e9, "milliard": 1e9, "milliards": 1e9, "млрд": 1e9, "миллиард": 1e9, "миллиарда": 1e9,
    "миллиардов": 1e9, "мільярд": 1e9, "мільярда": 1e9, "мільярдів": 1e9, "억": 1e8, "조": 1e12,
}  # fmt: skip
# Each pattern starts with the number's first digit, the lookbehind (no word, point or comma before the
# number) checked after it: a search then skips to the next digit instead of trying every position.
# A Korean amount names its larger unit first and the rest after it: 4만5000 = 45 000, 1조2000억 = 1.2e12.
_KOREAN_AMOUNT = re.compile(r"(\d(?<![\w.,]\d)\d*(?:\.\d+)?)\s?(조|억|만)\s?(\d{1,4}|\d{1,3},\d{3})\s?(억|만|천)?(?![\d.,])")
# A scale word is tried only before a letter (what every scale word starts with, in any case).
_NUMBER = re.compile(
    r"(\d(?<![\w.,]\d)(?:\d{0,2}(?:[ \u00a0\u202f,.'’]\d{3})+(?!\d)|\d*(?:[.,]\d+)?))"
    r"(?:\s?(?=[^\W\d_])(" + "|".join(sorted(_SCALES, key=len, reverse=True)) + r")(?![^\W\d_]{3}))?",
    re.IGNORECASE,
)
# The same in ASCII text, by ASCII classes (\w is [A-Za-z0-9_] there, \s also \x1c-\x1f) and the ASCII
# scale words (no other can match): a class of ASCII characters is a table look-up, a Unicode one is not.
_ASCII_NUMBER = re.compile(
    r"([0-9](?<![A-Za-z0-9_.,][0-9])(?:[0-9]{0,2}(?:[ ,.'][0-9]{3})+(?![0-9])|[0-9]*(?:[.,][0-9]+)?))"
    r"(?:[\t\n\x0b\x0c\r\x1c-\x1f ]?(?=[A-Za-z])("
    + "|".join(sorted((s for s in _SCALES if s.isascii()), key=len, reverse=True))
    + r")(?![A-Za-z]{3}))?",
    re.IGNORECASE,
)


_GROUPED = re.compile(r"\d{1,3}(?:[ \u00a0\u202f,.'’]\d{3})+")
_NOT_DIGIT = re.compile(r"\D")


@lru_cache(maxsize=4096)
def number_value(digits: str, scale: str | None) -> str:
    """A number as one term: thousands separators removed, decimals kept, the scale word applied."""
    value = float(_NOT_DIGIT.sub("", digits)) if _GROUPED.fullmatch(digits) else float(digits.replace(",", "."))
    value *= _SCALES.get(scale.casefold(), 1.0) if scale else 1.0
    return f"#{value:.0f}" if value >= 100 or value.is_integer() else f"#{value:g}"


def take_numbers(text: str) -> tuple[str, list[str]]:
    """The text with its numbers taken out (each one a space), and the numbers as terms."""
    found: list[str] = []

    def take_korean(m: re.Match[str]) -> str:
        high = float(m.group(1)) * _SCALES[m.group(2)]
        low = float(m.group(3).replace(",", "")) * (_SCALES[m.group(4)] if m.group(4) else 1.0)
        if low >= high:  # not one amount (만 5000 would be read as 5 000 after 10 000)
            return m.group(0)
        found.append(f"#{high + low:.0f}")
        return " "

    pattern = _ASCII_NUMBER if text.isascii() else _NUMBER
    if pattern is _NUMBER and ("조" in text or "억" in text or "만" in text):  # a Korean amount's units
        text = _KOREAN_AMOUNT.sub(take_korean, text)
    # split with the pattern's two groups: the text between numbers, then each number's digits and scale
    parts = pattern.split(text)
    if len(parts) == 1:
        return text, found
    found.extend(number_value(parts[i], parts[i + 1]) for i in range(1, len(parts), 3))
    return " ".join(parts[::3]), found
