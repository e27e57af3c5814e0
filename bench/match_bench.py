"""Matching speed: items/s for the shipped topics, for 1,000 generated topics, and for the shipped
topics beside 10,000 personal watches (with the memory the compiled watches take).

    python bench/match_bench.py                  # all three
    python bench/match_bench.py --watches 10000  # the shipped topics with and without the watches

Items are the 155 evaluation headlines with their leads (tests/data/eval_headlines.tsv) plus, where
../shared is beside the checkout, the 407 real reports of ../shared/corpus/stories/events.tsv and
every other item of the news feeds the watch words come from (the words come from the items between:
watches are written before the news they catch). The first pass meets every word form for the first
time (dictionary lookups); later passes show the steady state of a running bot, whose vocabulary
repeats from item to item.

Watches are written from words of real feeds in the five languages (WATCH_FEEDS, read in place from
../shared/corpus/news) in the shapes people write: a word, two words, alternatives, a phrase of two
words that stand together in the text, a prefix*, a word with an exclusion; words found in more than
5% of a language's items, in any form ("has", "sont", "было"), are left out: nobody watches for them. The goal: matching with
the watches within 2x of the shipped topics alone, the compiled watches under 50 MB.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import random
import statistics
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import load_config  # noqa: E402
from bot.matching.lemmas import query_keys, text_keys  # noqa: E402
from bot.matching.matcher import Matcher, index_text, term_keys  # noqa: E402
from bot.matching.normalize import is_hangul, words  # noqa: E402
from bot.matching.watches import WatchIndex  # noqa: E402
from bot.models import Topic  # noqa: E402
from bot.sources.rss import parse_feed  # noqa: E402

NEWS = ROOT.parent / "shared" / "corpus" / "news"
WATCH_FEEDS = {
    "en": [
        "headlines__bbc_news_home_2021-10-18.rss.xml",
        "headlines__nytimes_2021-10-18.rss.xml",
        "rssparser__guardian_us.rss.xml",
    ],
    "fr": ["lemonde__une_2018-06-27.rss.xml", "lemonde-repo__sciencesetavenir_espace_2018-06.rss.xml"],
    "ru": ["egfedorov__bbc_russian_rossiya.rss.xml", "egfedorov__meduza_chronicle.rss.xml"],
    "uk": ["egfedorov__texty_org_ua_projects.rss.xml"],
    "ko": ["khan__kyunghyang_all_2018-04-06.rss.xml"],
}


def feed_items(lang: str, half: int | None = None) -> list[tuple[str, str]]:
    """The items of the language's feeds; half=0 or 1: every other item (words come from one half,
    the other half is matched)."""
    out = []
    for name in WATCH_FEEDS[lang]:
        path = NEWS / name
        if path.exists():
            out += [(it.title, it.text) for it in parse_feed(path.read_bytes(), {}, str(path)).items]
    return out if half is None else out[half::2]


def items() -> list[tuple[str, str]]:
    rows = []
    events = ROOT.parent / "shared" / "corpus" / "stories" / "events.tsv"
    if events.exists():
        for line in events.read_text(encoding="utf-8").splitlines()[1:]:
            cols = line.split("\t")
            rows.append((cols[5], cols[6]))
    for line in (ROOT / "tests" / "data" / "eval_headlines.tsv").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            _, _, _, title, lead = line.split("\t")
            rows.append((title, lead))
    for lang in WATCH_FEEDS:
        rows += feed_items(lang, half=1)
    return rows


def generated_topics(n: int) -> list[Topic]:
    rnd = random.Random(7)
    words_ = sorted({w for t, lead in items() for w in (t + " " + lead).lower().split() if w.isalpha() and len(w) > 4})
    topics = []
    for i in range(n):
        a, b, c = rnd.sample(words_, 3)
        topics.append(Topic(f"t{i}", f"t{i}", f'("{a} {b}" OR {c}*) -{rnd.choice(words_)}'))
    return topics


COMMON_SHARE = 0.05  # a word (lemma) in more of a language's items than this is not one people watch for


def _is_word(w: str) -> bool:
    return not w.isdigit() and (len(w) >= 2 if is_hangul(w) else len(w) >= 4)


def generated_watches(n: int) -> list[str]:
    """n queries, an equal share per language, from the words (and word pairs) of that language's feeds."""
    rnd = random.Random(15)
    queries: list[str] = []
    langs = [lang for lang in WATCH_FEEDS if feed_items(lang)]
    for i, lang in enumerate(langs):
        texts = [words(f"{t} {x}") for t, x in feed_items(lang, half=0)]
        df = Counter(k for ws in texts for k in {k for w in ws for k in text_keys(w)})
        common = {k for k, n in df.items() if n > max(2, len(texts) * COMMON_SHARE)}  # have, être, быть

        def usual(w: str, common: set[str] = common) -> bool:
            return _is_word(w) and not common & set(query_keys(w))

        vocab = sorted({w for ws in texts for w in ws if usual(w)})
        pairs = sorted(
            {(a, b) for ws in texts for a, b in itertools.pairwise(ws) if _is_word(a) and _is_word(b) and (usual(a) or usual(b))}
        )
        share = n // len(langs) + (1 if i < n % len(langs) else 0)
        for _ in range(share):
            a, b, c = rnd.sample(vocab, 3)
            shape = rnd.random()
            if shape < 0.3:
                q = a
            elif shape < 0.5:
                q = f"{a} {b}"
            elif shape < 0.7:
                q = f"{a} OR {b} OR {c}"
            elif shape < 0.8:
                q = '"{} {}"'.format(*rnd.choice(pairs))
            elif shape < 0.9:
                q = f"{a[: max(3, len(a) - 2)]}*" if not is_hangul(a) else f"{a[:2]}*"
            else:
                q = f"{a} -{b}"
            queries.append(q)
    return queries


def bench(label: str, match: Callable[[str, str], int], texts: list[tuple[str, str]], rounds: int = 20) -> float:
    t0 = time.perf_counter()
    for title, lead in texts:
        match(title, lead)
    cold = time.perf_counter() - t0
    print(f"{label}, first pass: {len(texts) / cold:,.0f} items/s")
    t0 = time.perf_counter()
    hits = 0
    for _ in range(rounds):
        for title, lead in texts:
            hits += match(title, lead)
    dt = time.perf_counter() - t0
    n = rounds * len(texts)
    print(f"{label}: {n / dt:,.0f} items/s ({dt / n * 1e6:.0f} µs per item, {hits} hits)")
    return n / dt


def topics_only(matcher: Matcher) -> Callable[[str, str], int]:
    return lambda title, text: len(matcher.match_index(index_text(title, text)))


def with_watches(matcher: Matcher, watches: WatchIndex) -> Callable[[str, str], int]:
    def match(title: str, text: str) -> int:
        idx = index_text(title, text)  # one index for both, as in the parse workers
        return len(matcher.match_index(idx)) + len(watches.match_index(idx))

    return match


def compile_watches(queries: list[str]) -> tuple[WatchIndex, float, float]:
    """The compiled index, the seconds it took and the MB it holds, lemma caches it filled included
    (a second compile under tracemalloc, the caches emptied first). The dictionaries are loaded
    first: a worker has them loaded for its topics and items anyway."""
    for word in ("troops", "troupes", "войска", "військові", "북한군은"):
        query_keys(word)
    t0 = time.perf_counter()
    WatchIndex().apply(enumerate(queries, 1))
    took = time.perf_counter() - t0
    query_keys.cache_clear()
    term_keys.cache_clear()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    index = WatchIndex()
    index.apply(enumerate(queries, 1))
    gc.collect()
    size = (tracemalloc.get_traced_memory()[0] - before) / 1e6
    tracemalloc.stop()
    return index, took, size


def interleaved(
    modes: dict[str, Callable[[str, str], int]], texts: list[tuple[str, str]], rounds: int = 15
) -> dict[str, list[float]]:
    """Seconds per pass over the texts for each mode, passes taken in turn so that a busy machine
    slows every mode alike."""
    for match in modes.values():  # first passes: every word form met once
        for title, lead in texts:
            match(title, lead)
    times: dict[str, list[float]] = {label: [] for label in modes}
    for _ in range(rounds):
        for label, match in modes.items():
            t0 = time.perf_counter()
            for title, lead in texts:
                match(title, lead)
            times[label].append(time.perf_counter() - t0)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--watches", type=int, default=0, help="only the shipped topics, then with this many watches")
    args = ap.parse_args()
    texts = items()
    shipped = Matcher(load_config(ROOT / "feeds.yaml").topics)
    print(f"{len(texts)} items")
    if not args.watches:
        bench("3 shipped topics", topics_only(shipped), texts)
        bench("1,000 topics", topics_only(Matcher(generated_topics(1000))), texts)
    n = args.watches or 10_000
    queries = generated_watches(n)
    index, took, size = compile_watches(queries)
    print(f"{len(index):,} watches compiled in {took:.1f} s; {size:.1f} MB (tracemalloc, lemma caches included)")
    hits = sum(len(index.match_index(index_text(t, x))) for t, x in texts)
    print(f"{hits / len(texts):.1f} watch hits per item")
    label = f"3 topics + {len(index):,} watches"
    times = interleaved({"3 topics": topics_only(shipped), label: with_watches(shipped, index)}, texts)
    for name, passes in times.items():
        best, median = min(passes), statistics.median(passes)
        print(
            f"{name}: {len(texts) / median:,.0f} items/s median, {len(texts) / best:,.0f} best ({median / len(texts) * 1e6:.0f} µs per item)"
        )
    ratios = sorted(w / t for t, w in zip(times["3 topics"], times[label], strict=True))
    print(f"time per item with the watches / without: {statistics.median(ratios):.2f}x (median of {len(ratios)} paired passes)")
    add = time.perf_counter()
    for i in range(1000):
        index.add(n + 1 + i, queries[i])
        index.remove(n + 1 + i)
    print(f"add + remove one watch: {(time.perf_counter() - add) / 1000 * 1e6:.0f} µs")


if __name__ == "__main__":
    main()
