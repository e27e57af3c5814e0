"""What this stack costs before any of Newswatch's own work: the floor under `python -m bot once`.

    python bench/floor_bench.py [--feeds 1000] [--repeat 3]

The same local feeds as bench/poll_bench.py (bench/feed_server.py: N RSS feeds of 50 items, ETag/304),
and the same three scenarios, each a whole process measured from outside over its process tree:
- start-up: the interpreter importing what a poller on this stack cannot do without (asyncio,
  aiohttp, sqlite3 through sqlite-utils, with numpy hidden from it as storage/__init__.py does), and
  nothing else;
- all 304: that, plus one aiohttp session making a conditional GET of every feed (ETags known),
  concurrency as in poll_bench, plus one SQLite transaction recording every feed's poll;
- cold: that, plus each body read by fastfeedparser (the fastest feed parser here) and every item
  stored with one executemany into a table keyed like Newswatch's `items` (unique feed and key);
- 10% changed: the all-304 round, with the bodies of the feeds that changed read and their items
  (all 50, as a reader that keeps no digests must) stored with INSERT OR IGNORE.
No matching, no word forms, no stories: no poller that matches and groups items can be faster than
this on the same machine. Medians of the repeats.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ("start-up", "cold", "all 304", "10% changed")


def child(mode: str, port: int, feeds: int, concurrency: int, db_path: str, etags_path: str) -> None:
    """One scenario, in a process of its own (what the parent measures)."""
    for name in ("numpy", "pandas"):  # sqlite-utils imports them when installed; Newswatch hides them too
        sys.modules[name] = None  # type: ignore[assignment]
    import aiohttp
    import sqlite_utils

    if mode == "start-up":
        return
    import asyncio

    import fastfeedparser

    etags: dict[str, str] = json.loads(Path(etags_path).read_text()) if mode != "cold" else {}
    db = sqlite_utils.Database(db_path)
    conn = db.conn
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, feed INTEGER, key TEXT, url TEXT, title TEXT,"
        " text TEXT, published TEXT, UNIQUE (feed, key))"
    )
    conn.execute("CREATE TABLE IF NOT EXISTS feeds (id INTEGER PRIMARY KEY, etag TEXT, polled REAL)")
    rows: list[tuple[object, ...]] = []
    states: list[tuple[object, ...]] = []

    async def poll(session: aiohttp.ClientSession, gate: asyncio.Semaphore, n: int) -> None:
        url = f"http://127.0.0.1:{port}/feed/{n}.xml"
        headers = {"If-None-Match": etags[str(n)]} if str(n) in etags else {}
        async with gate, session.get(url, headers=headers) as resp:
            body = await resp.read()
            etag = resp.headers.get("ETag", "")
        states.append((n, etag, time.time()))
        if resp.status == 304:
            return
        parsed = fastfeedparser.parse(body)
        for e in parsed.entries:
            rows.append(
                (n, e.get("id") or e.get("link"), e.get("link"), e.get("title"), e.get("description"), e.get("published"))
            )

    async def main() -> None:
        gate = asyncio.Semaphore(concurrency)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
            await asyncio.gather(*(poll(session, gate, n) for n in range(feeds)))

    asyncio.run(main())
    with conn:
        conn.executemany("INSERT OR IGNORE INTO items (feed, key, url, title, text, published) VALUES (?, ?, ?, ?, ?, ?)", rows)
        conn.executemany("INSERT OR REPLACE INTO feeds (id, etag, polled) VALUES (?, ?, ?)", states)
    if mode == "cold":
        Path(etags_path).write_text(json.dumps({str(n): etag for n, etag, _ in states}))
    print(json.dumps({"items": len(rows)}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--child", nargs=5, metavar=("MODE", "PORT", "CONCURRENCY", "DB", "ETAGS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        mode, port, concurrency, db, etags = args.child
        child(mode, int(port), args.feeds, int(concurrency), db, etags)
        return
    import ctypes
    import os
    import statistics
    import tempfile

    from poll_bench import PR_SET_CHILD_SUBREAPER, bump, feed_server, run_tree

    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise SystemExit("bench: prctl(PR_SET_CHILD_SUBREAPER) failed: whole-tree CPU cannot be measured")
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    runs: dict[str, list[tuple[float, float, float]]] = {s: [] for s in SCENARIOS}
    for _ in range(args.repeat):
        with feed_server(args.feeds) as (port, server_pid), tempfile.TemporaryDirectory() as tmp:
            for label in SCENARIOS:
                if label == "10% changed":
                    bump(port)
                mode = "changed" if label == "10% changed" else label
                cmd = [sys.executable, __file__, "--feeds", str(args.feeds), "--child", mode, str(port), str(args.concurrency)]
                cmd += [f"{tmp}/floor.db", f"{tmp}/etags.json"]
                wall, cpu, rss, _, _ = run_tree(cmd, env, {server_pid})
                runs[label].append((wall, cpu, rss))
    print(
        f"floor of this stack, {args.feeds} feeds x 50 items on 127.0.0.1, concurrency {args.concurrency}, median of {args.repeat}"
    )
    for label in SCENARIOS:
        got = runs[label]
        wall, cpu, rss = (statistics.median(r[i] for r in got) for i in range(3))
        print(f"  {label:<12} wall {wall:6.2f} s  tree CPU {cpu:6.2f} s  tree peak RSS {rss:4.0f} MB")


if __name__ == "__main__":
    main()
