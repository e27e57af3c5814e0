"""Matching speed: items/s for the shipped topics and for 1,000 generated topics.

    python bench/match_bench.py

Items are the 155 evaluation headlines with their leads (tests/data/eval_headlines.tsv) plus, where
../shared is beside the checkout, the 407 real reports of ../shared/corpus/stories/events.tsv. The
first pass meets every word form for the first time (dictionary lookups); later passes show the
steady state of a running bot, whose vocabulary repeats from item to item.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import load_config  # noqa: E402
from bot.matching.matcher import Matcher  # noqa: E402
from bot.models import Topic  # noqa: E402


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
    return rows


def generated_topics(n: int) -> list[Topic]:
    rnd = random.Random(7)
    words = sorted({w for t, lead in items() for w in (t + " " + lead).lower().split() if w.isalpha() and len(w) > 4})
    topics = []
    for i in range(n):
        a, b, c = rnd.sample(words, 3)
        topics.append(Topic(f"t{i}", f"t{i}", f'("{a} {b}" OR {c}*) -{rnd.choice(words)}'))
    return topics


def bench(label: str, matcher: Matcher, texts: list[tuple[str, str]], rounds: int = 20) -> None:
    t0 = time.perf_counter()
    for title, lead in texts:
        matcher.match(title, lead)
    cold = time.perf_counter() - t0
    print(f"{label}, first pass: {len(texts) / cold:,.0f} items/s")
    t0 = time.perf_counter()
    hits = 0
    for _ in range(rounds):
        for title, lead in texts:
            hits += len(matcher.match(title, lead))
    dt = time.perf_counter() - t0
    n = rounds * len(texts)
    print(f"{label}: {n / dt:,.0f} items/s ({dt / n * 1e6:.0f} µs per item, {hits} topic hits)")


def main() -> None:
    texts = items()
    bench("3 shipped topics", Matcher(load_config(ROOT / "feeds.yaml").topics), texts)
    bench("1,000 topics", Matcher(generated_topics(1000)), texts)


if __name__ == "__main__":
    main()
