"""Digest fan-out: N subscribers each due a digest, sent through python-telegram-bot to the emulator.

    python bench/fanout_bench.py --subscribers 10000 --limited 600

Round 1 sends N digests with no rate limiter (messages/s and CPU of this process); round 2 sends
`--limited` digests with AIORateLimiter on and reports the most messages the emulator received in
any one-second window (Telegram's limit is 30/s). The emulator runs in its own process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from telegram.ext import AIORateLimiter, ExtBot  # noqa: E402
from telegram.request import HTTPXRequest  # noqa: E402

from bot.delivery.outbox import Outbox, OutboxPolicy  # noqa: E402
from bot.delivery.senders import TelegramSender  # noqa: E402
from storage.db import AsyncDB, iso, open_database, utcnow  # noqa: E402

STORIES = 3


def seed(db_path: Path, subscribers: int, first_chat: int) -> None:
    """N digest chats, each with STORIES pending digest deliveries."""
    db = open_database(db_path)
    now = utcnow()
    past = iso(now - timedelta(minutes=1))
    with db.conn:
        if not db.execute("SELECT 1 FROM feeds").fetchone():
            db.execute("INSERT INTO feeds (id, source, kind, name, url, interval_s) VALUES (1, 'x', 'rss', 'Wire', 'x', 600)")
            for s in range(1, STORIES + 1):
                db.execute(
                    "INSERT INTO stories (id, title, url, first_seen_at, last_seen_at) VALUES (?, ?, ?, ?, ?)",
                    [s, f"Rutte story {s} — «Рютте» 뤼터 😀", f"https://n.example/{s}", iso(now), iso(now)],
                )
                db.execute(
                    "INSERT INTO items (feed_id, key, url, title, text, fetched_at, story_id) VALUES (1, ?, ?, ?, '', ?, ?)",
                    [str(s), f"https://n.example/{s}", f"Rutte story {s}", iso(now), s],
                )
        chats = range(first_chat, first_chat + subscribers)
        db.conn.executemany(
            "INSERT INTO subscribers (chat_id, mode, next_digest_at, created_at) VALUES (?, 'digest', ?, ?)",
            [(c, past, iso(now)) for c in chats],
        )
        db.conn.executemany(
            "INSERT INTO deliveries (chat_id, story_id, topic, kind, created_at, next_attempt_at) VALUES (?, ?, 'rutte', 'digest', ?, ?)",
            [(c, s, iso(now), iso(now)) for c in chats for s in range(1, STORIES + 1)],
        )
    db.close()


def stats(base_url: str, skip: int = 0) -> dict[str, int]:
    with urllib.request.urlopen(base_url.removesuffix("/bot") + f"/_stats?skip={skip}") as r:
        data: dict[str, int] = json.loads(r.read())
        return data


async def fan_out(db_path: Path, base_url: str, rate_limit: bool) -> tuple[int, float, float]:
    bot = ExtBot(
        "123:BENCH",
        base_url=base_url,
        request=HTTPXRequest(connection_pool_size=16),
        rate_limiter=AIORateLimiter(max_retries=0) if rate_limit else None,
    )
    await bot.initialize()
    adb = AsyncDB(open_database(db_path))
    outbox = Outbox(
        adb,
        TelegramSender(bot),
        lambda: {"rutte": "Mark Rutte"},
        policy=OutboxPolicy(concurrency=16, max_per_second=1_000_000 if not rate_limit else 25),
    )
    t0, c0 = time.perf_counter(), time.process_time()
    chats = await outbox.send_digests()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    await bot.shutdown()
    adb.close()
    return chats, wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--limited", type=int, default=600, help="digests in the rate-limited round")
    args = parser.parse_args()
    emulator = subprocess.Popen([sys.executable, "-m", "tests.botapi"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert emulator.stdout is not None
        base_url = emulator.stdout.readline().strip()
        with tempfile.TemporaryDirectory() as tmp:
            db_path = Path(tmp) / "bench.db"
            seed(db_path, args.subscribers, 1)
            chats, wall, cpu = asyncio.run(fan_out(db_path, base_url, rate_limit=False))
            s = stats(base_url)
            print(
                f"no rate limit: {chats} digests, {s['sent']} messages in {wall:.1f} s = {s['sent'] / wall:.0f} msg/s, CPU {cpu:.1f} s"
            )
            seed(db_path, args.limited, 10_000_000)
            before = s["sent"]
            chats, wall, cpu = asyncio.run(fan_out(db_path, base_url, rate_limit=True))
            s = stats(base_url, skip=before)
            sent = s["sent"] - before
            print(
                f"AIORateLimiter: {chats} digests, {sent} messages in {wall:.1f} s = {sent / wall:.1f} msg/s, CPU {cpu:.1f} s; "
                f"busiest one-second window: {s['max_per_second']} messages"
            )
    finally:
        emulator.terminate()
        emulator.wait(10)


if __name__ == "__main__":
    main()
