"""Matching precision and recall: the shipped suffix rules against Snowball stemmers.

    .venv/bin/pip install PyStemmer   # only for this comparison; not a dependency
    .venv/bin/python bench/stemmer_compare.py

Scores the shipped topics on tests/data/eval_headlines.tsv, as tests/test_eval.py does, and the
inflection table of tests/test_matching.py (a query's base form against inflected forms), with the
word keys of bot/matching/morphology.py swapped for Snowball's: a query word is looked up by its stem
and a text word is indexed under itself and its stem (stemming both sides is how a stemmer is used).
Snowball has no Ukrainian and no Korean: Cyrillic words get the Russian stemmer, Hangul keeps the
shipped particle rules, and Latin words get the English or the French stemmer (one per run: a word's
language is not known when it is indexed).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import load_config  # noqa: E402
from bot.matching import morphology  # noqa: E402
from bot.matching.matcher import Matcher  # noqa: E402
from bot.matching.normalize import is_cyrillic, is_hangul  # noqa: E402
from bot.models import Topic  # noqa: E402
from tests.test_eval import EVAL  # noqa: E402
from tests.test_matching import INFLECTIONS  # noqa: E402


def score(matcher: Matcher) -> tuple[float, float, int, int]:
    """(precision, recall, false positives, false negatives) over the evaluation set."""
    tp = fp = fn = 0
    for row in EVAL:
        got = {m.topic for m in matcher.match(row.title, row.lead)}
        tp += len(got & row.topics)
        fp += len(got - row.topics)
        fn += len(row.topics - got)
    return tp / (tp + fp), tp / (tp + fn), fp, fn


def inflections_wrong() -> list[tuple[str, str, bool]]:
    """The rows of tests/test_matching.py's inflection table the current word keys get wrong."""
    return [(q, text, want) for q, text, want in INFLECTIONS if bool(Matcher([Topic("t", "t", q)]).match(text, "")) != want]


def snowball_keys(latin: str) -> tuple[Callable[[str], str], Callable[[str], tuple[str, ...]]]:
    """term_key and token_keys built on Snowball (Russian for Cyrillic, `latin` for Latin letters)."""
    import Stemmer  # type: ignore[import-not-found]

    ru, lat = Stemmer.Stemmer("russian"), Stemmer.Stemmer(latin)
    shipped = morphology.token_keys

    def stem(word: str) -> str:
        if is_cyrillic(word):
            return str(ru.stemWord(word))
        if word.isascii() and word.isalpha():
            return str(lat.stemWord(word))
        return word

    def token_keys(token: str) -> tuple[str, ...]:
        if is_hangul(token):
            return tuple(shipped(token))
        s = stem(token)
        return (token,) if s == token else (token, s)

    return stem, token_keys


def main() -> None:
    topics = load_config(ROOT / "feeds.yaml").topics
    results = [("suffix rules (shipped)", *score(Matcher(topics)), inflections_wrong())]
    shipped = morphology.term_key, morphology.token_keys
    try:
        for latin in ("english", "french"):
            morphology.term_key, morphology.token_keys = snowball_keys(latin)  # type: ignore[assignment]
            try:
                results.append((f"Snowball russian + {latin}", *score(Matcher(topics)), inflections_wrong()))
            finally:
                morphology.term_key, morphology.token_keys = shipped  # type: ignore[assignment]
    except ImportError:
        print("PyStemmer is not installed (.venv/bin/pip install PyStemmer): shipped rules only")
    print(f"{len(EVAL)} labelled items, the topics of feeds.yaml")
    print(f"{'word keys':30} {'precision':>9} {'recall':>7} {'FP':>4} {'FN':>4} {'inflections':>11}")
    for name, p, r, fp, fn, wrong in results:
        print(f"{name:30} {p:>9.3f} {r:>7.3f} {fp:>4} {fn:>4} {len(INFLECTIONS) - len(wrong):>5}/{len(INFLECTIONS)}")
    for name, *_, wrong in results:
        for q, text, want in wrong:
            print(f"  {name}: {q!r} in {text!r} should {'' if want else 'not '}match")


if __name__ == "__main__":
    main()
