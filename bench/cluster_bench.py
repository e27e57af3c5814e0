"""Clustering cost per matched item with 10,000 and 100,000 stories of its topic in the window.

    python bench/cluster_bench.py [--stories 10000 100000] [--items 300]

A real database file is filled with stories that all carry a hit on the topic and were seen in the
last hours (the worst case: every story is a candidate by time and topic), then matched items are
stored through `storage.items.save_poll` with the clustering rules, one poll of 50 items at a time.
Item texts are the real reports of ../shared/corpus/stories/events.tsv where present.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.clustering import StoryRules, encode_terms, item_language, item_terms  # noqa: E402
from bot.models import FeedConfig, Item, Match, Topic  # noqa: E402
from storage.db import open_database  # noqa: E402
from storage.feeds import sync_feeds  # noqa: E402
from storage.items import NewItem, PollUpdate, save_poll  # noqa: E402


def texts() -> list[tuple[str, str]]:
    events = ROOT.parent / "shared" / "corpus" / "stories" / "events.tsv"
    if events.exists():
        return [(c[5], c[6]) for c in (line.split("\t") for line in events.read_text(encoding="utf-8").splitlines()[1:])]
    return [(f"Report {i} about event {i % 97}", f"Lead {i} with words {i % 13} and {i % 7}") for i in range(400)]


def run(n_stories: int, n_items: int) -> None:
    now = datetime(2025, 11, 28, 12, tzinfo=UTC)
    rnd = random.Random(3)
    pool = texts()
    with tempfile.TemporaryDirectory() as tmp:
        db = open_database(Path(tmp) / "bench.db")
        feeds = [FeedConfig(f"F{i}", "rss", f"https://f{i}.example/", f"https://f{i}.example/", 600) for i in range(2)]
        ids = sync_feeds(db, feeds)
        fid = ids[feeds[0].url]
        with db.conn:
            for i in range(n_stories):
                title, lead = pool[i % len(pool)]
                seen = (now - timedelta(minutes=rnd.randrange(0, 47 * 60))).isoformat(timespec="seconds")
                cur = db.execute(
                    "INSERT INTO stories (title, first_seen_at, last_seen_at, signature, lang) VALUES (?, ?, ?, ?, ?)",
                    [title, seen, seen, encode_terms(item_terms(f"{title} {i}", lead)), item_language(title, lead)],
                )
                sid = cur.lastrowid
                db.execute(
                    "INSERT INTO items (feed_id, key, title, text, fetched_at, story_id) VALUES (?, ?, ?, ?, ?, ?)",
                    [fid, f"s{i}", title, lead, seen, sid],
                )
                db.execute(
                    "INSERT INTO hits (story_id, topic, item_id, matched, created_at) VALUES (?, 'war', last_insert_rowid(), '[]', ?)",
                    [sid, seen],
                )
        rules = StoryRules([Topic("war", "War", "war")])
        entries = []
        for i in range(n_items):
            title, lead = pool[rnd.randrange(len(pool))]
            item = Item(f"n{i}", f"https://x.example/{i}", title, lead)
            entries.append(
                NewItem(item, [Match("war", ("war",))], encode_terms(item_terms(title, lead)), item_language(title, lead))
            )
        t0 = time.perf_counter()
        for start in range(0, n_items, 50):
            save_poll(db, ids[feeds[1].url], PollUpdate(200, None, None, None, now), entries[start : start + 50], now, rules)
        dt = time.perf_counter() - t0
        print(f"{n_stories:>7,} stories in the window: {dt / n_items * 1000:.2f} ms per matched item ({n_items} items)")
        db.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stories", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--items", type=int, default=300)
    args = ap.parse_args()
    for n in args.stories:
        run(n, args.items)


if __name__ == "__main__":
    main()
