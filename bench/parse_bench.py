"""Feed parsing: feedparser alone against parse_feed (the lxml fast path where it applies), and what a
parse worker spends per item.

    python bench/parse_bench.py [--repeat 3] [--generated 40] [--worker-only]

Reads every RSS/Atom/RDF feed of ../shared/corpus (where it is present) and `--generated` feeds of 50
items made by bench/feed_server.py (the poll benchmark's feeds), each set `--repeat` times with each
parser, and prints the median CPU time per feed and items per CPU second, and how many feeds took the
fast path. Then the parse worker's CPU per item (bot.sources.parseworker.parse_and_match with the
shipped topics, on the generated feeds and on the corpus's RSS/Atom feeds), and the same work stage by
stage: parse (parse_body), match (words, screening, word index, topics), terms (story terms; the
language of a matched item) and anchors (a matched item's numbers and names); `--worker-only` prints
only that. `--memory` also prints the resident set of a fresh interpreter after importing the parse
stage as it was, as it is (with lxml), and with fastfeedparser besides, when it is installed (each parse
worker pays it once).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from feed_server import make_feed  # noqa: E402

from bot import clustering, crosslang  # noqa: E402
from bot.config import load_config  # noqa: E402
from bot.errors import ParseError  # noqa: E402
from bot.matching.matcher import index_words  # noqa: E402
from bot.matching.normalize import words  # noqa: E402
from bot.models import Item, ParsedFeed  # noqa: E402
from bot.sources import parseworker  # noqa: E402
from bot.sources.fastrss import parse_fast  # noqa: E402
from bot.sources.parsing import parse_body  # noqa: E402
from bot.sources.rss import parse_feed, parse_with_feedparser  # noqa: E402
from bot.terms import encode_terms, item_term_keys, item_terms  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
URL = "https://feed.example/rss"
HEADERS = {"content-type": "application/rss+xml", "content-location": URL}


def corpus_feeds() -> list[bytes]:
    """The corpus's XML feeds (JSON Feed has its own reader either way)."""
    if not CORPUS.exists():
        return []
    paths = sorted(p for kind in ("news", "quirks", "other") for p in (CORPUS / kind).iterdir() if not p.name.endswith(".json"))
    return [p.read_bytes() for p in paths]


def run(parse: Callable[[bytes], ParsedFeed], bodies: list[bytes]) -> tuple[float, int]:
    """CPU seconds to parse every body once, and the items read."""
    items = 0
    start = time.process_time()
    for body in bodies:
        with contextlib.suppress(ParseError):  # bodies that are not feeds count no items either way
            items += len(parse(body).items)
    return time.process_time() - start, items


def report(name: str, bodies: list[bytes], repeat: int) -> None:
    parsers: dict[str, Callable[[bytes], ParsedFeed]] = {
        "feedparser": lambda b: parse_with_feedparser(b, dict(HEADERS), URL),
        "parse_feed": lambda b: parse_feed(b, HEADERS, URL),
    }
    fast = sum(parse_fast(b, dict(HEADERS)) is not None for b in bodies)
    print(f"{name}: {len(bodies)} feeds, {fast} on the fast path")
    medians = {}
    for label, parse in parsers.items():
        runs = [run(parse, bodies) for _ in range(repeat)]
        cpu = statistics.median(r[0] for r in runs)
        items = runs[0][1]
        medians[label] = cpu
        print(f"  {label:11} {cpu / len(bodies) * 1000:8.2f} ms CPU/feed {items / cpu:10,.0f} items/s  ({items} items)")
    print(f"  speed-up {medians['feedparser'] / medians['parse_feed']:.1f}x")


def _cpu(work: Callable[[], object], repeat: int) -> float:
    """The least CPU seconds of `repeat` runs (the others were slowed by something else)."""
    times = []
    for _ in range(repeat):
        start = time.process_time()
        work()
        times.append(time.process_time() - start)
    return min(times)


def worker_report(name: str, bodies: list[bytes], repeat: int) -> None:
    """parse_and_match's CPU per item on these bodies, then stage by stage as it does them."""
    headers = [dict(HEADERS, **{"content-location": f"{URL}/{i}"}) for i in range(len(bodies))]
    readable = []
    for body, h in zip(bodies, headers, strict=True):
        with contextlib.suppress(ParseError):
            readable.append((body, h, parse_body("rss", body, h, URL).items))
    items = [it for _, _, found in readable for it in found]
    matcher, aliases = parseworker._state.matcher, parseworker._state.aliases
    assert matcher is not None
    split = [(words(it.title), words(it.text)) for it in items]
    feed_words = words("Feed")

    def match(it: Item, title: list[str], text: list[str]) -> bool:
        if not matcher.may_match(title, text):
            return False
        return bool(matcher.match_index(index_words(title, text, feed_words, (it.title, it.text, "Feed"))))

    matched = [match(it, *pair) for it, pair in zip(items, split, strict=True)]
    lang = [clustering.words_language(t + x) if m else "" for (t, x), m in zip(split, matched, strict=True)]
    stages: dict[str, Callable[[], object]] = {
        "parse_and_match": lambda: [parseworker.parse_and_match("rss", b, h, URL, "Feed") for b, h, _ in readable],
        "  parse": lambda: [parse_body("rss", b, h, URL) for b, h, _ in readable],
        "  match": lambda: [match(it, words(it.title), words(it.text)) for it in items],
        "  terms": lambda: [
            (encode_terms(item_terms(it.title, it.text)), clustering.words_language(t + x))
            if m
            else item_term_keys(it.title, it.text)
            for it, (t, x), m in zip(items, split, matched, strict=True)
        ],
        "  anchors": lambda: [
            crosslang.anchors(it.title, it.text, g, aliases) for it, m, g in zip(items, matched, lang, strict=True) if m and g
        ],
    }
    stages["parse_and_match"]()  # the first reading of each word fills the caches a poll fills too
    print(f"{name}: {len(items)} items, {sum(matched)} matched")
    for label, work in stages.items():
        print(f"  {label:16} {_cpu(work, repeat) / max(1, len(items)) * 1e6:7.1f} us CPU/item")


def memory() -> None:
    """Resident set of a fresh interpreter after importing the parse stage, with and without fastfeedparser."""
    probe = (
        "import sys; sys.path.insert(0, {root!r}); {imports}; "
        "print(next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmRSS')))"
    )
    cases = {
        "feedparser, selectolax (parse stage before)": "import feedparser, selectolax.lexbor, bot.models, bot.stories",
        "+ lxml (bot.sources.rss now)": "import bot.sources.rss",
        "+ fastfeedparser besides": "import bot.sources.rss, fastfeedparser",
    }
    for label, imports in cases.items():
        if "fastfeedparser" in imports and importlib.util.find_spec("fastfeedparser") is None:
            continue
        kb = [
            int(subprocess.check_output([sys.executable, "-c", probe.format(root=str(ROOT), imports=imports)], text=True))
            for _ in range(3)
        ]
        print(f"  RSS after import, {label}: {statistics.median(kb) / 1024:.1f} MB")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--generated", type=int, default=40)
    ap.add_argument("--memory", action="store_true")
    ap.add_argument("--worker-only", action="store_true")
    args = ap.parse_args()
    corpus = corpus_feeds()
    generated = [make_feed(n, 0) for n in range(args.generated)]
    parseworker._init_worker(tuple(load_config(ROOT / "feeds.yaml").topics))
    worker_report("parse worker, generated feeds", generated, args.repeat)
    if corpus:
        worker_report("parse worker, corpus", corpus, args.repeat)
    if args.worker_only:
        return
    if corpus:
        report("corpus", corpus, args.repeat)
        report("corpus, the feeds the fast path reads", [b for b in corpus if parse_fast(b, dict(HEADERS))], args.repeat)
    else:
        print("corpus: ../shared/corpus is not available, skipped")
    report("generated (50 items each)", generated, args.repeat)
    if args.memory:
        memory()


if __name__ == "__main__":
    main()
