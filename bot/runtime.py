"""The live parts every command shares: settings, config, database, fetcher, parser pool."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bot.config import Config, Settings, load_config
from bot.pipeline import BODIES_IN_HAND, PollContext
from bot.sources.fetcher import Fetcher
from bot.sources.parsing import ParserPool
from storage.db import AsyncDB, open_database
from storage.feeds import sync_feeds
from storage.watches import WatchChanges
from storage.wordforms import WordForms, holds_cyrillic_words


@dataclass
class Runtime:
    """The live parts shared by the commands (config, feed ids and parser pool change on a reload)."""

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
        async with Fetcher(
            timeout_s=settings.timeout_s,
            max_bytes=settings.max_bytes,
            concurrency=settings.concurrency,
            per_host=settings.per_host,
            allow_private=settings.allow_private_urls,
        ) as fetcher:
            watches = WatchChanges(settings.db_path)  # the parse workers follow the watches table
            forms = WordForms(settings.db_path)  # and read the word forms analysed before
            parser = ParserPool(settings.parse_workers, config.topics, watches, forms)
            parser.cyrillic_at_need = not await adb.run(holds_cyrillic_words)  # see ParserPool
            ctx = PollContext(adb, fetcher, parser, settings.max_backoff_s)
            ctx.in_hand = asyncio.Semaphore(max(BODIES_IN_HAND, settings.concurrency))  # never below the fetches
            ctx.max_age_s = config.max_age_s
            try:
                yield Runtime(settings, config, ctx, feed_ids)
            finally:
                ctx.parser.close()  # the pool in use now: a reload may have replaced the first one
                watches.close()
                forms.close()
    finally:
        adb.close()


class FileConfig:
    """The config as feeds.yaml says now, re-read after each change (the CLI's; LiveConfig extends it for the bot)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    @property
    def config(self) -> Config:
        """The config last read."""
        return self.rt.config

    @property
    def feed_ids(self) -> dict[str, int]:
        """Feed source -> feed id."""
        return self.rt.feed_ids

    async def reload(self, *, force: bool = False) -> bool:
        """Read feeds.yaml again and sync the feeds table (raises ConfigError when it is invalid)."""
        config = await asyncio.to_thread(load_config, self.rt.config.path, self.rt.settings.web_url)
        self.rt.feed_ids = await self.rt.ctx.db.run(sync_feeds, config.feeds)
        self.rt.config = config
        return True
