"""Feed parsing: feedparser alone against parse_feed (the lxml fast path where it applies).

    python bench/parse_bench.py [--repeat 3] [--generated 40]

Reads every RSS/Atom/RDF feed of ../shared/corpus (where it is present) and `--generated` feeds of 50
items made by bench/feed_server.py (the poll benchmark's feeds), each set `--repeat` times with each
parser, and prints the median CPU time per feed and items per CPU second, and how many feeds took the
fast path. `--memory` also prints the resident set of a fresh interpreter after importing the parse
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

from bot.errors import ParseError  # noqa: E402
from bot.models import ParsedFeed  # noqa: E402
from bot.sources.fastrss import parse_fast  # noqa: E402
from bot.sources.rss import parse_feed, parse_with_feedparser  # noqa: E402

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
    args = ap.parse_args()
    corpus = corpus_feeds()
    if corpus:
        report("corpus", corpus, args.repeat)
        report("corpus, the feeds the fast path reads", [b for b in corpus if parse_fast(b, dict(HEADERS))], args.repeat)
    else:
        print("corpus: ../shared/corpus is not available, skipped")
    report("generated (50 items each)", [make_feed(n, 0) for n in range(args.generated)], args.repeat)
    if args.memory:
        memory()


if __name__ == "__main__":
    main()
