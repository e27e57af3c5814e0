"""Cost of keeping the feed list: validating, editing and hot-reloading a large feeds.yaml.

    python bench/reload_bench.py [--feeds 1000]

Generates a feeds.yaml with N feeds (a comment every 10) and the shipped topics, then times:
validation alone; one admin edit (lock, read, validate, round trip, validate, atomic write); a reload
that adds a feed (feeds table sync + poll jobs); and a reload that changes a topic (new parser pool).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from apscheduler.schedulers.asyncio import AsyncIOScheduler  # noqa: E402

from bot.config import Settings, load_config, parse_config  # noqa: E402
from bot.feedlist import edit_feeds_file  # noqa: E402
from bot.live import LiveConfig  # noqa: E402
from bot.pipeline import PollOutcome  # noqa: E402
from bot.runtime import open_runtime  # noqa: E402
from bot.scheduler import FeedScheduler  # noqa: E402
from bot.subscribers import Catalog  # noqa: E402


def feeds_yaml(n: int) -> str:
    shipped = (ROOT / "feeds.yaml").read_text(encoding="utf-8")
    head = shipped.split("\nfeeds:\n", 1)[0]
    lines = [head, "", "feeds:"]
    for i in range(n):
        if i % 10 == 0:
            lines.append(f"  # group {i // 10}")
        lines += [f"  - name: Feed {i}", f"    url: https://feeds{i % 50}.example/{i}.xml"]
    return "\n".join(lines) + "\n"


def timed(fn: object, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)


async def reload_times(path: Path, db: Path) -> tuple[float, float]:
    settings = Settings(config_path=path, db_path=db, parse_workers=1)

    async def notify(text: str) -> None:
        print("notice:", text)

    async def on_outcome(outcome: PollOutcome) -> None:
        return None

    async with open_runtime(settings, load_config(path)) as rt:
        live = LiveConfig(rt, Catalog(rt.config.topics), notify, console=True)
        scheduler = AsyncIOScheduler(timezone="UTC")
        await live.start(FeedScheduler(scheduler, rt.ctx, on_outcome))
        with edit_feeds_file(path) as edit:
            edit.doc.add_feed(url="https://new.example/feed.xml", name="New")
        t = time.perf_counter()
        await live.reload()
        add = time.perf_counter() - t
        with edit_feeds_file(path) as edit:
            edit.doc.add_topic("zelensky", "zelensky OR зеленськ* OR зеленск*")
        t = time.perf_counter()
        await live.reload()
        topic = time.perf_counter() - t
        assert len(live.config.feeds) == len(load_config(path).feeds)
    return add, topic


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--feeds", type=int, default=1000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "feeds.yaml"
        text = feeds_yaml(args.feeds)
        path.write_text(text, encoding="utf-8")
        print(f"feeds.yaml: {args.feeds} feeds, {len(text) / 1024:.0f} KiB")
        validate = timed(lambda: parse_config(text, path), 5)
        print(f"validate:               {validate * 1000:7.1f} ms")

        def one_edit() -> None:
            with edit_feeds_file(path) as edit:
                edit.doc.set_enabled(0, False)

        print(f"admin edit (one feed):  {timed(one_edit, 5) * 1000:7.1f} ms")
        add, topic = asyncio.run(reload_times(path, Path(tmp) / "nw.db"))
        print(f"reload, feed added:     {add * 1000:7.1f} ms")
        print(f"reload, topic added:    {topic * 1000:7.1f} ms (includes a new parser pool)")


if __name__ == "__main__":
    main()
