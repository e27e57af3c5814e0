"""What growing alerts and story pages cost the database: the query every outbox drain runs to find
alerts whose story grew, one page of a "+N more" list, and /latest, with 10,000 and 100,000 sent alerts.

    python bench/growth_bench.py [--alerts 10000 100000] [--repeat 50]

A real database file holds one story per alert, all sent as single alerts within the last two days
(the edit window, the worst case), one in a hundred with more outlets than its alert shows, and every
story with a hit on one topic. Each figure is the median of `--repeat` calls.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storage.db import iso, open_database  # noqa: E402
from storage.growth import grown_alerts  # noqa: E402
from storage.story_lists import create_story_list, get_story_list, latest_story_ids, story_views  # noqa: E402


def fill(path: Path, n: int, now: datetime) -> None:
    db = open_database(path)
    with db.conn:
        db.execute("INSERT INTO feeds (id, source, kind, name, url, interval_s) VALUES (1, 's', 'rss', 'Wire', 'u', 600)")
        db.execute("INSERT INTO subscribers (chat_id, created_at) VALUES (1, ?)", [iso(now)])
        stories, items, hits, deliveries = [], [], [], []
        for i in range(1, n + 1):
            at = iso(now - timedelta(seconds=(i * 170_000) // n))
            n_feeds = 3 if i % 100 == 0 else 1
            stories.append((i, f"Story {i}", f"https://news.example/{i}", at, at, at, n_feeds))
            items.append((i, 1, str(i), f"https://news.example/{i}", f"Story {i}", "", at, at, i))
            hits.append((i, "rutte", i, "[]", at))
            deliveries.append((i, 1, i, "rutte", "alert", "sent", json.dumps([i]), at, at, "alert", 1))
        db.conn.executemany(
            "INSERT INTO stories (id, title, url, first_seen_at, last_seen_at, published_at, n_feeds) VALUES (?,?,?,?,?,?,?)",
            stories,
        )
        db.conn.executemany(
            "INSERT INTO items (id, feed_id, key, url, title, text, published_at, fetched_at, story_id)"
            " VALUES (?,?,?,?,?,?,?,?,?)",
            items,
        )
        db.conn.executemany("INSERT INTO hits (story_id, topic, item_id, matched, created_at) VALUES (?,?,?,?,?)", hits)
        db.conn.executemany(
            "INSERT INTO deliveries (id, chat_id, story_id, topic, kind, status, message_ids, created_at, sent_at,"
            " shown_as, shown_feeds) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            deliveries,
        )
    db.execute("ANALYZE")
    db.close()


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def run(n: int, repeat: int) -> None:
    now = datetime(2026, 11, 28, 12, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "growth.db"
        fill(path, n, now)
        db = open_database(path)
        gap, window = timedelta(minutes=5), timedelta(days=2)
        due = grown_alerts(db, now, gap, window)
        list_id = create_story_list(db, 1, "digest", "Mark Rutte", list(range(1, 1001)), 10, 1010, now)
        grown = median_ms(lambda: grown_alerts(db, now, gap, window), repeat)
        page = median_ms(lambda: story_views(db, get_story_list(db, list_id).story_ids[500:510]), repeat)  # type: ignore[union-attr]
        latest = median_ms(lambda: latest_story_ids(db, "rutte", 50), repeat)
        db.close()
    print(
        f"{n:>7,} sent alerts: find grown alerts {grown:6.2f} ms ({len(due)} due) · "
        f"one page of a list {page:5.2f} ms · /latest ids {latest:6.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alerts", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    for n in args.alerts:
        run(n, args.repeat)


if __name__ == "__main__":
    main()
