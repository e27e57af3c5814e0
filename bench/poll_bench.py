"""Poll N local feeds three times: cold, all-304, 10% changed. Prints wall, CPU, peak RSS, items/s.

    python bench/poll_bench.py --feeds 1000
Runs the same feeds through newsboat (`newsboat -x reload`) in the same run when it is installed.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import Config, Settings, load_config  # noqa: E402
from bot.models import FeedConfig  # noqa: E402
from bot.pipeline import poll_feed  # noqa: E402
from bot.runtime import open_runtime  # noqa: E402
from storage.items import count_rows  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def wait_for(port: int) -> None:
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("bench: feed server did not start")


async def poll_round(settings: Settings, config: Config) -> tuple[int, int]:
    async with open_runtime(settings, config) as rt:
        outcomes = await asyncio.gather(*(poll_feed(rt.ctx, f, rt.feed_ids[f.source]) for f in config.feeds))
        errors = [o.error for o in outcomes if o.error]
        if errors:
            print(f"  {len(errors)} errors, first: {errors[0]}")
        return sum(o.new_items for o in outcomes), sum(1 for o in outcomes if o.parsed)


def measure(label: str, settings: Settings, config: Config) -> float:
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    new_items, parsed = asyncio.run(poll_round(settings, config))
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    rss_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rss_kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    rate = new_items / wall if wall else 0
    print(
        f"{label:<14} wall {wall:6.2f} s  cpu {cpu:6.2f} s  feeds parsed {parsed:5d}  new items {new_items:6d}  "
        f"items/s {rate:8.0f}  peak RSS {rss_self:5.0f} MB (largest parser worker {rss_kids:4.0f} MB)"
    )
    return wall


def newsboat(port: int, feeds: int, tmp: Path, bump: callable) -> None:  # type: ignore[valid-type]
    exe = shutil.which("newsboat")
    if not exe:
        print("newsboat: not installed (apt-get install newsboat), comparison skipped")
        return
    urls = tmp / "urls"
    urls.write_text("".join(f"http://127.0.0.1:{port}/feed/{n}.xml\n" for n in range(feeds)))
    conf = tmp / "nbconfig"
    conf.write_text("reload-threads 50\n")
    for label in ("newsboat cold", "newsboat 304"):
        t0 = time.perf_counter()
        subprocess.run(
            [exe, "-u", str(urls), "-c", str(tmp / "nb.db"), "-C", str(conf), "-x", "reload"], check=False, capture_output=True
        )
        print(f"{label:<14} wall {time.perf_counter() - t0:6.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--workers", type=int, default=0, help="parser processes (0 = one per core)")
    args = ap.parse_args()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "feed_server.py"), "--port", str(port), "--feeds", str(args.feeds)]
    )
    try:
        wait_for(port)
        with tempfile.TemporaryDirectory() as tmpdir:
            tmp = Path(tmpdir)
            base = load_config(ROOT / "feeds.yaml")
            feeds = tuple(
                FeedConfig(
                    f"feed {n}", "rss", f"http://127.0.0.1:{port}/feed/{n}.xml", f"http://127.0.0.1:{port}/feed/{n}.xml", 600
                )
                for n in range(args.feeds)
            )
            config = Config(tmp / "feeds.yaml", 600, "UTC", (), 7, base.topics, feeds)
            # All feeds share one host here, so the per-host limit is set to the overall concurrency.
            settings = Settings(
                db_path=tmp / "bench.db",
                allow_private_urls=True,
                concurrency=args.concurrency,
                per_host=args.concurrency,
                parse_workers=args.workers,
            )
            print(f"{args.feeds} feeds x 50 items on 127.0.0.1, concurrency {args.concurrency}, 3 topics")
            measure("cold", settings, config)
            measure("all 304", settings, config)
            urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/bump?fraction=0.1", method="POST")).read()
            measure("10% changed", settings, config)
            from storage.db import open_database

            db = open_database(settings.db_path)
            print(f"stored: {count_rows(db, 'items')} items, {count_rows(db, 'stories')} stories, {count_rows(db, 'hits')} hits")
            db.close()
            newsboat(port, args.feeds, tmp, lambda: None)
    finally:
        server.terminate()
        server.wait(5)


if __name__ == "__main__":
    main()
