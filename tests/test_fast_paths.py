"""The shorter ways through text give what the general rules give: ASCII text tokenised with str methods,
whitespace collapsed with str.split, numbers found from their first digit, and the term keys of an item
that matched nothing taken without their counts."""

from __future__ import annotations

import random
import re
import sys

from bot import numbers, terms
from bot.clustering import item_terms
from bot.matching.normalize import unicode_words, words
from bot.sources.feeditems import collapse_space
from tests import storyeval


def _reports() -> list[tuple[str, str]]:
    return [(r.title, r.lead) for path in storyeval.present_sets() for r in storyeval.load_reports(path)]


def _ascii_texts() -> list[str]:
    """Strings of every ASCII character (punctuation, digits, separators, controls) and the ASCII reports."""
    rnd = random.Random(13)
    pool = [chr(c) for c in range(128)] + ["1,500", "10 thousand", "2.5 Million", "Peskov", " "] * 8
    made = ["".join(rnd.choice(pool) for _ in range(rnd.randint(0, 30))) for _ in range(2000)]
    return made + [t for pair in _reports() for t in pair if t.isascii()]


def test_ascii_text_gives_the_words_and_terms_the_unicode_rules_give() -> None:
    texts = _ascii_texts()
    assert sum(bool(t) for t in texts) > 2000
    for text in texts:
        assert words(text) == unicode_words(text), text
        for limit in (None, 3, terms.LEAD_WORDS):
            assert terms._tokens(text, limit) == terms._unicode_tokens(text, limit), (text, limit)


def test_the_terms_of_words_met_before_are_the_terms_of_the_words() -> None:
    """Each word's terms are kept (`_terms_per_word`): the same as worked out anew, a capital after the
    first word marking a name, whether the words were met before or not."""
    texts = [t for pair in _reports() for t in pair]
    for warm in (False, True):
        for text in texts:
            if not warm:
                terms._INSIDE.clear()
                terms._LEADING.clear()
            raw = terms._tokens(text, None)[1]
            expected = [terms._token_terms(tok, i > 0 and tok[0].isupper()) for i, tok in enumerate(raw)]
            assert terms._terms_per_word(raw) == expected, text


def test_an_item_that_matched_nothing_keeps_the_keys_of_its_full_terms() -> None:
    reports = _reports()
    assert len(reports) > 400
    for title, lead in [*reports, ("Same title", " Same title "), ("", "")]:
        assert terms.item_term_keys(title, lead) == " ".join(item_terms(title, lead)), title


def test_numbers_are_where_the_plain_patterns_find_them() -> None:
    """The patterns check "no word, point or comma before" after the first digit and try a scale word only
    before a letter (a faster search), and ASCII text has a pattern of ASCII classes: the same spans and
    groups as the plain patterns."""
    scales = "|".join(sorted(numbers._SCALES, key=len, reverse=True))
    plain = re.compile(
        rf"(?<![\w.,])(\d{{1,3}}(?:[ \u00a0\u202f,.'’]\d{{3}})+(?!\d)|\d+(?:[.,]\d+)?)(?:\s?({scales})(?![^\W\d_]{{3}}))?",
        re.IGNORECASE,
    )
    korean = re.compile(r"(?<![\w.,])(\d+(?:\.\d+)?)\s?(조|억|만)\s?(\d{1,4}|\d{1,3},\d{3})\s?(억|만|천)?(?![\d.,])")
    rnd = random.Random(7)
    ascii_pool = [*"0123456789 ,.'_aZ\t\n\x1c", "1,500", "thousand", "MILLION", "Milliards", "mille", "billionaire", "abc"]
    pool = [*ascii_pool, *"’\u00a0\u202fé٣ſK", "млн", "Тыс", "만", "억", "조", "천", "thouſand", "mİllion"]
    cases = [(plain, numbers._ASCII_NUMBER, ascii_pool), (plain, numbers._NUMBER, pool), (korean, numbers._KOREAN_AMOUNT, pool)]
    for reference, pattern, chars in cases:
        for _ in range(3000):
            text = "".join(rnd.choice(chars) for _ in range(rnd.randint(1, 12)))
            expected = [(m.span(), m.groups()) for m in reference.finditer(text)]
            assert [(m.span(), m.groups()) for m in pattern.finditer(text)] == expected, text
            if reference is plain and not any(unit in text for unit in "조억만"):  # taken out by re.split
                terms_of = [numbers.number_value(m[1], m[2]) for m in plain.finditer(text)]
                assert numbers.take_numbers(text) == (plain.sub(" ", text), terms_of), text


def test_whitespace_collapses_as_the_regex_collapses_it() -> None:
    every = "".join(chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF)
    spaces = "".join(re.findall(r"\s", every))
    assert spaces == "".join(c for c in every if c.isspace()) and len(spaces) > 25
    others = spaces.replace(" ", "")  # what lets a printable text (in ASCII, one without controls) stand
    assert not any(c.isprintable() for c in others) and all(c < " " for c in others if c.isascii())
    rnd = random.Random(5)
    for _ in range(2000):
        chars = [*spaces, "a", "é", "字", "-", " "] if rnd.random() < 0.5 else ["\t", "\x1f", "\x7f", "a", "-", " ", " "]
        text = "".join(rnd.choice(chars) for _ in range(rnd.randint(0, 12)))
        assert collapse_space(text) == re.sub(r"\s+", " ", text).strip(), repr(text)
