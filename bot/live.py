"""The running bot's config and feed health: feeds.yaml changes applied without a restart.

A reload reads feeds.yaml from disk (the one source of truth; the database keeps only state) with
the same strict reading as `check` and start-up (bot/config_yaml.py) and, if it validates, applies it: the feeds table follows the list (removed feeds keep their items and hits),
poll jobs are added, removed or re-timed, a changed set of topics gets a new parser pool (its
workers hold the compiled topics), and the topic catalog and the console chat follow. An invalid file
is not applied: the running config stays, and the error (file:line: what) is logged and sent to the
admins once. Reloads come from the file watcher (a stat every second; editors that replace the file
and editors that rewrite it are both seen) and from admin commands, one at a time.
"""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import datetime
from pathlib import Path

from bot.config import Config, parse_config, text_digest
from bot.config_yaml import read_config_text
from bot.delivery.outbox import Notify
from bot.delivery.render import esc, split_message
from bot.errors import ConfigError
from bot.health import HealthEvent, HealthPolicy, format_time, health_event
from bot.models import FeedConfig
from bot.pipeline import PollOutcome
from bot.runtime import FileConfig, Runtime
from bot.scheduler import FeedScheduler
from bot.sources.parsing import ParserPool
from bot.subscribers import Catalog
from bot.wording import count
from storage.db import utcnow
from storage.feeds import list_feed_states, pause_feed, sync_feeds
from storage.subscribers import ensure_console_subscriber

log = logging.getLogger(__name__)

SETTLE_S = 0.2  # a file still changing after this long is read on the next check


class LiveConfig(FileConfig):
    """Holds the config the bot runs with and applies a new one to every running part."""

    def __init__(self, rt: Runtime, catalog: Catalog, notify: Notify, *, console: bool) -> None:
        super().__init__(rt)
        self.catalog, self.notify, self.console = catalog, notify, console
        self.feeds: FeedScheduler | None = None
        self.applied_hash = rt.config.digest
        self.last_error: str | None = None
        self._lock = asyncio.Lock()
        self._notices: list[str] = []
        self._flush: asyncio.Task[None] | None = None

    @property
    def health(self) -> HealthPolicy:
        """The feed health policy in force."""
        return HealthPolicy.of(self.rt.config)

    async def start(self, feeds: FeedScheduler) -> None:
        """Schedule the configured feeds (those not paused for their health)."""
        self.feeds = feeds
        feeds.set_feeds(await self._feeds_with_state(self.rt.config.feeds), utcnow())

    async def reload(self, *, force: bool = False) -> bool:
        """Read feeds.yaml and apply it if it changed (or `force`); False when it is invalid (admins told)."""
        async with self._lock:
            path = self.rt.config.path
            try:
                text = await asyncio.to_thread(read_config_text, path)
            except ConfigError as e:  # unreadable, or not UTF-8: refused like any invalid file
                await self._refuse(str(e))
                return False
            digest = text_digest(text)
            if digest == self.applied_hash and not force:
                return True
            try:
                config = await asyncio.to_thread(parse_config, text, path, self.rt.settings.web_url)
            except ConfigError as e:
                await self._refuse(str(e))
                return False
            await self._apply(config)
            self.applied_hash = digest
            if self.last_error is not None:
                self.last_error = None
                await self.notify(f"{esc(path.name)} is valid again and now applied.")
            return True

    async def _refuse(self, error: str) -> None:
        if error == self.last_error:
            return
        self.last_error = error
        log.error("config not applied, the running config stays: %s", error)
        name = esc(self.rt.config.path.name)
        await self.notify(f"<b>{name} was not applied</b>: {esc(error)}\nThe bot keeps running with the previous config.")

    async def _apply(self, config: Config) -> None:
        old, rt = self.rt.config, self.rt
        ids = await rt.ctx.db.run(sync_feeds, config.feeds)
        if config.topics != old.topics:
            parser, rt.ctx.parser = (
                rt.ctx.parser,
                ParserPool(rt.settings.parse_workers, config.topics, rt.ctx.parser.watches, rt.ctx.parser.forms),
            )
            await asyncio.to_thread(parser.close, cancel_pending=False)  # parses under way finish first
        rt.config, rt.feed_ids = config, ids
        rt.ctx.max_age_s = config.max_age_s
        self.catalog.reload(config.topics, config.timezone, config.digest_times)
        await rt.ctx.db.run(ensure_console_subscriber, [t.id for t in config.topics], self.console, utcnow(), config.timezone)
        if self.feeds is not None:
            self.feeds.set_feeds(await self._feeds_with_state(config.feeds), utcnow())
        log.info("config applied from %s: %d feeds, %d topics", config.path, len(config.feeds), len(config.topics))

    async def _feeds_with_state(self, feeds: tuple[FeedConfig, ...]) -> list[tuple[FeedConfig, int, datetime | None]]:
        states = await self.rt.ctx.db.run(list_feed_states)
        out: list[tuple[FeedConfig, int, datetime | None]] = []
        for f in feeds:
            state = states[self.rt.feed_ids[f.source]]
            if not state.paused_reason:
                out.append((f, state.id, state.next_poll_at))
        return out

    async def watch(self, stop: asyncio.Event, every_s: float = 1.0) -> None:
        """Reload whenever feeds.yaml changes on disk, until `stop` is set."""
        path = self.rt.config.path
        # No stamp yet: the first check compares contents, so an edit made while the bot started applies.
        seen: tuple[int, int, int] | bool | None = False
        while True:
            try:
                await asyncio.wait_for(stop.wait(), every_s)
                return
            except TimeoutError:
                pass
            now = _stamp(path)
            if now == seen:
                continue
            await asyncio.sleep(SETTLE_S)
            if _stamp(path) != now:
                continue  # still being written
            seen = now
            try:
                await self.reload()
            except Exception:  # the watcher's top level: one failed reload must not end hot reloading
                log.exception("config reload failed path=%s; the watcher goes on", path)
                await self.notify(f"Applying {esc(path.name)} failed unexpectedly; see the log. The watcher goes on.")

    async def after_poll(self, outcome: PollOutcome) -> None:
        """Act on a poll's meaning for the feed's health: tell the admins, pause a feed dead for too long."""
        feed, zone = outcome.feed, self.catalog.zone
        feed_id = self.rt.feed_ids.get(feed.source)
        name = f"<b>{esc(feed.name)}</b> (#{feed_id})"
        if outcome.moved_to:
            self._health_notice(
                f"Feed {name} moved permanently to {esc(outcome.moved_to)}; it is read there from now on. "
                f"{esc(self.rt.config.path.name)} still names the old address."
            )
        now = self.rt.ctx.clock()
        event = health_event(
            self.health, outcome.status == "error", outcome.errors_before, outcome.error_count, outcome.failing_since, now
        )
        if event is None:
            return
        since = format_time(outcome.failing_since, zone, now)
        if event is HealthEvent.FAILING:
            self._health_notice(
                f"Feed {name} is failing: {count(outcome.error_count, 'poll')} in a row since {since}.\n{esc(outcome.error or '')}"
            )
        elif event is HealthEvent.RECOVERED:
            self._health_notice(f"Feed {name} works again after {count(outcome.errors_before, 'failed poll')}.")
        elif feed_id is not None:
            reason = f"failing since {since}: {outcome.error}"
            await self.rt.ctx.db.run(pause_feed, feed_id, reason)
            if self.feeds is not None:
                self.feeds.unschedule(feed.source)
            log.warning("feed paused feed=%s url=%s: %s", feed.name, feed.url, reason)
            self._health_notice(
                f"Feed {name} is paused: it has failed since {since}.\n{esc(outcome.error or '')}\n"
                f"/resumefeed {feed_id} tries it again."
            )

    def _health_notice(self, text: str) -> None:
        """Queue a health notice: those within `notice_delay_s` go as one message (a network outage
        that breaks every feed is one message, not one per feed)."""
        self._notices.append(text)
        if self._flush is None or self._flush.done():
            self._flush = asyncio.create_task(self._send_notices(self.rt.settings.notice_delay_s))

    async def _send_notices(self, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        notices, self._notices = self._notices, []
        if len(notices) == 1:
            await self.notify(notices[0])
        elif notices:
            for part in split_message([f"<b>Feed health</b>: {len(notices)} changes", *(f"\n• {n}" for n in notices)]):
                await self.notify(part)

    async def close(self) -> None:
        """Send the health notices still waiting (at shutdown)."""
        if self._flush is not None and not self._flush.done():
            self._flush.cancel()
            await self._send_notices(0)


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino
