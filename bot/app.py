"""Composition root: settings + config + store + fetcher + parsers + matcher + scheduler + delivery."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TextIO

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.config import Config, Settings, load_config
from bot.delivery.render import render_console_hit, render_table
from bot.models import FeedConfig, Hit
from bot.pipeline import PollContext, PollOutcome, poll_feed
from bot.scheduler import FeedScheduler
from bot.sources.fetcher import Fetcher
from bot.sources.parsing import ParserPool
from storage.db import AsyncDB, open_database, utcnow
from storage.feeds import FeedState, get_feed_state, sync_feeds
from storage.items import mark_reported, unreported_hits

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """The live parts shared by the commands."""

    settings: Settings
    config: Config
    ctx: PollContext
    feed_ids: dict[str, int]


@asynccontextmanager
async def open_runtime(settings: Settings, config: Config) -> AsyncIterator[Runtime]:
    """Open the database, the fetcher and the parser pool; close them all on exit."""
    adb = AsyncDB(open_database(settings.db_path))
    try:
        feed_ids = await adb.run(sync_feeds, config.feeds)
        async with (
            Fetcher(
                timeout_s=settings.timeout_s,
                max_bytes=settings.max_bytes,
                concurrency=settings.concurrency,
                per_host=settings.per_host,
                allow_private=settings.allow_private_urls,
            ) as fetcher,
            ParserPool(settings.parse_workers, config.topics) as parser,
        ):
            ctx = PollContext(adb, fetcher, parser, settings.max_backoff_s)
            yield Runtime(settings, config, ctx, feed_ids)
    finally:
        adb.close()


class HitPrinter:
    """Prints hits (JSON lines or readable blocks) and marks them reported once printed."""

    def __init__(self, rt: Runtime, out: TextIO, as_json: bool, table: bool = False) -> None:
        self.rt, self.out, self.as_json, self.table = rt, out, as_json, table
        self.topic_names = {t.id: t.name for t in rt.config.topics}
        self.count = 0

    async def report(self, hits: list[Hit]) -> None:
        """Print, flush, then mark reported: a crash in between prints again rather than never."""
        if not hits:
            return
        if self.as_json:
            text = "\n".join(json.dumps(h.to_json_dict(), ensure_ascii=False) for h in hits)
        elif self.table:
            text = render_table(hits)
        else:
            text = "\n".join(render_console_hit(h, self.topic_names.get(h.topic)) for h in hits)
        self.out.write(text + "\n")
        self.out.flush()
        self.count += len(hits)
        await self.rt.ctx.db.run(mark_reported, [h.hit_id for h in hits], utcnow())

    async def report_pending(self) -> None:
        """Report hits stored by an earlier run that stopped before reporting them."""
        await self.report(await self.rt.ctx.db.run(unreported_hits))


async def run_once(
    settings: Settings,
    config: Config,
    *,
    as_json: bool,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    progress: bool = False,
) -> int:
    """Poll every enabled feed once, print the new hits; return the number of feeds that failed."""
    async with open_runtime(settings, config) as rt:
        printer = HitPrinter(rt, out, as_json, table=not as_json)
        await printer.report_pending()
        feeds = [f for f in config.feeds if f.enabled]
        failed = 0
        tasks = [asyncio.ensure_future(poll_feed(rt.ctx, f, rt.feed_ids[f.source])) for f in feeds]
        for done, fut in enumerate(asyncio.as_completed(tasks), 1):
            outcome = await fut
            if outcome.error:
                failed += 1
                err.write(f"{outcome.feed.name}: {outcome.error}\n")
            await printer.report(outcome.hits)
            if progress:
                err.write(f"\rpolled {done}/{len(feeds)} feeds, {printer.count} new hits, {failed} failed ")
                err.flush()
        if progress:
            err.write("\n")
        return failed


async def run_forever(settings: Settings, config: Config, stop: asyncio.Event | None = None, out: TextIO = sys.stdout) -> None:
    """Run the scheduler until `stop` is set or SIGINT/SIGTERM arrives, then shut down cleanly."""
    stop = stop or asyncio.Event()
    _install_signal_handlers(stop.set)
    async with open_runtime(settings, config) as rt:
        printer = HitPrinter(rt, out, as_json=False)
        await printer.report_pending()

        async def on_outcome(outcome: PollOutcome) -> None:
            await printer.report(outcome.hits)

        scheduler = AsyncIOScheduler(timezone="UTC")
        feeds = FeedScheduler(scheduler, rt.ctx, on_outcome)
        feeds.set_feeds(await _feeds_with_state(rt, config.feeds), utcnow())
        scheduler.start()
        log.info("running: %d feeds, %d topics, database %s", len(feeds.feeds), len(config.topics), settings.db_path)
        try:
            await stop.wait()
        finally:
            scheduler.shutdown(wait=False)
            log.info("stopped")


async def _feeds_with_state(rt: Runtime, feeds: tuple[FeedConfig, ...]) -> list[tuple[FeedConfig, int, datetime | None]]:
    out: list[tuple[FeedConfig, int, datetime | None]] = []
    for f in feeds:
        state: FeedState = await rt.ctx.db.run(get_feed_state, rt.feed_ids[f.source])
        out.append((f, state.id, state.next_poll_at))
    return out


def _install_signal_handlers(callback: Callable[[], None]) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread, or not POSIX
            loop.add_signal_handler(sig, callback)


def read_config(settings: Settings) -> Config:
    """Load feeds.yaml named by the settings (raises ConfigError)."""
    return load_config(settings.config_path, settings.web_url)
