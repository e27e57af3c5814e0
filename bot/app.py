"""Composition root: settings + config + store + fetcher + parsers + matcher + scheduler + delivery."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TextIO

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.admin import AdminService
from bot.config import Config, Settings, load_config
from bot.console import RunSummary, alerts_destination
from bot.delivery.gate import SendGate
from bot.delivery.gatelog import GateJournal
from bot.delivery.outbox import Notify, Outbox, OutboxPolicy
from bot.delivery.render import cap_html, html_to_plain
from bot.delivery.senders import ConsoleSender, Sender, TelegramSender
from bot.delivery.surge_alerts import SurgeAlerts
from bot.errors import ConfigError, SendError
from bot.feedlist import write_atomic
from bot.live import LiveConfig
from bot.opml import export_opml, parse_opml
from bot.pages import StoryPages
from bot.pipeline import PollOutcome
from bot.runtime import FileConfig, Runtime, open_runtime
from bot.scheduler import FeedScheduler
from bot.sources.probe import FeedProbe
from bot.subscribers import Catalog, SubscriberService
from bot.telegram.admin import add_admin_handlers
from bot.telegram.application import (
    TelegramApp,
    build_application,
    error_handler,
    register_handlers,
    start_application,
    stop_application,
)
from bot.trends.service import TrendService
from bot.trends.watcher import SurgeWatcher
from bot.watches import WatchLimits, WatchService
from bot.wording import SHELL, count
from storage.db import utcnow
from storage.reporting import claim_hits
from storage.schedule_owner import ScheduleLock
from storage.subscribers import CONSOLE_CHAT_ID, ensure_console_subscriber
from storage.surges import set_surge_alerts
from storage.trends import prune_feed_failures

log = logging.getLogger(__name__)

SURGE_CHECK_S = 300  # how often every topic is checked for a surge
FAILURES_KEPT_DAYS = 92  # feed failure hours kept for the /stats chart
STOP_GRACE_S = 3.0  # how long stopping lets a send wait for its turn (the last notices, a per-chat gap)


async def run_forever(settings: Settings, config: Config, stop: asyncio.Event | None = None, out: TextIO = sys.stdout) -> None:
    """Run polls, the outbox, the feeds.yaml watcher and (with a token) the Telegram bot until `stop`
    is set or SIGINT/SIGTERM."""
    if stop is None:  # the command line: SIGINT/SIGTERM stop it (an embedding caller passes its own event)
        stop = asyncio.Event()
        _install_signal_handlers(stop.set)
    async with open_runtime(settings, config) as rt, open_delivery(rt, out) as dl, held_schedule(settings):
        db = rt.ctx.db
        live = LiveConfig(rt, dl.catalog, dl.notify_admins, console=dl.telegram is None)
        summary = RunSummary(
            settings.summary_s, lambda: rt.config.feeds, lambda: dl.outbox.sent_messages, lambda: rt.ctx.max_age_s
        )

        async def on_outcome(outcome: PollOutcome) -> None:
            summary.after_poll(outcome)
            if outcome.hits:
                await db.run(claim_hits, utcnow(), None, [h.hit_id for h in outcome.hits])
                dl.outbox.wake()
            await live.after_poll(outcome)

        scheduler = AsyncIOScheduler(timezone="UTC")
        feeds = FeedScheduler(scheduler, rt.ctx, on_outcome)
        await live.start(feeds)
        if dl.telegram is not None:
            dl.telegram.bot_data["admin"] = AdminService(db, settings, live, FeedProbe(rt.ctx.fetcher, settings.web_url))
        scheduler.add_job(
            dl.digest_job, "interval", seconds=30, id="digests", next_run_time=utcnow(), misfire_grace_time=3600, coalesce=True
        )
        scheduler.add_job(dl.surge_job, "interval", seconds=SURGE_CHECK_S, id="surges", misfire_grace_time=600, coalesce=True)
        scheduler.start()
        tasks = [asyncio.create_task(t) for t in (dl.outbox.run(stop), live.watch(stop), summary.run(stop), dl.surges.run(stop))]
        log.info(
            "running: %s, %s, database %s", count(len(feeds.feeds), "feed"), count(len(config.topics), "topic"), settings.db_path
        )
        log.info("%s", alerts_destination(dl.telegram.bot.username if dl.telegram is not None else None))
        try:
            await stop.wait()
        finally:
            scheduler.shutdown(wait=False)
            dl.stop_sending()
            await asyncio.gather(*tasks)
            await live.close()
            log.info("stopped")


@asynccontextmanager
async def held_schedule(settings: Settings) -> AsyncIterator[None]:
    """Hold the database's schedule lock while the bot runs, so a `once` beside it leaves the feeds'
    back-off to the bot (storage.schedule_owner)."""
    lock = ScheduleLock(settings.db_path)
    if not lock.acquire():
        log.warning("another bot already runs on %s: both count feed failures, so back-off grows faster", settings.db_path)
    try:
        yield
    finally:
        lock.release()


@dataclass
class DeliveryRuntime:
    """The delivery side: outbox, sender, subscriber commands and (with a token) the Telegram bot."""

    outbox: Outbox
    catalog: Catalog
    notify_admins: Notify
    telegram: TelegramApp | None
    gate: SendGate
    surges: SurgeAlerts
    watcher: SurgeWatcher

    def stop_sending(self) -> None:
        """From now on no send waits more than STOP_GRACE_S for its turn: what would stays pending
        (alerts, digests) or is logged as not sent (replies, notices)."""
        self.outbox.stop()
        self.surges.stop()
        self.gate.close(STOP_GRACE_S)

    async def digest_job(self) -> None:
        """Send the digests that are due (APScheduler job; a late run catches up)."""
        await self.outbox.send_digests()

    async def surge_job(self) -> None:
        """Ask the surge decider about every topic; send the alerts a new surge queued; forget feed failure
        hours older than the longest chart (APScheduler job)."""
        if await self.watcher.check():
            self.surges.wake()
        await self.watcher.db.run(prune_feed_failures, utcnow() - timedelta(days=FAILURES_KEPT_DAYS))


@asynccontextmanager
async def open_delivery(rt: Runtime, out: TextIO, policy: OutboxPolicy | None = None) -> AsyncIterator[DeliveryRuntime]:
    """Build the sender (Telegram with a token, else the console), the outbox and the bot; stop them on exit."""
    settings, config, db = rt.settings, rt.config, rt.ctx.db
    catalog = Catalog(config.topics, config.timezone, config.digest_times)
    policy = policy or OutboxPolicy()
    gate = SendGate(policy.send_limits())
    journal = GateJournal(db, gate)
    await journal.restore()  # a hold or group windows left by the process before this one
    app = build_application(settings, gate, journal) if settings.bot_token else None
    sender: TelegramSender | ConsoleSender = TelegramSender(app.bot) if app is not None else ConsoleSender(out)
    await db.run(ensure_console_subscriber, [t.id for t in config.topics], app is None, utcnow(), config.timezone)
    await db.run(set_surge_alerts, CONSOLE_CHAT_ID, app is None, utcnow())  # the console prints surges too
    notify = admin_notifier(sender, settings.admin_ids if app is not None else (CONSOLE_CHAT_ID,))
    outbox = Outbox(db, sender, lambda: catalog.names, policy=policy, notify_admins=notify)
    if app is not None:
        subscribers = SubscriberService(db, catalog)
        app.bot_data["subscribers"] = subscribers
        limits = WatchLimits(settings.max_watches, settings.watch_max_chars, settings.watch_max_terms)
        app.bot_data["watches"] = WatchService(db, subscribers, limits)
        app.bot_data["trends"] = TrendService(db, catalog)
        app.bot_data["pages"] = StoryPages(db, catalog)
        register_handlers(app, lambda a: add_admin_handlers(a, settings.admin_ids))
        app.add_error_handler(error_handler(notify))
        await start_application(app, settings.admin_ids)
    surges = SurgeAlerts(db, sender, lambda: catalog.names, policy)
    dl = DeliveryRuntime(outbox, catalog, notify, app, gate, surges, SurgeWatcher(db, catalog))
    try:
        yield dl
    finally:
        dl.stop_sending()
        if app is not None:
            await stop_application(app, gate)


def admin_notifier(sender: Sender, admin_ids: tuple[int, ...]) -> Notify:
    """Send a short HTML notice (one message at most) to every admin directly (not through the outbox,
    but through the send gate); failures are logged."""

    async def notify(text: str) -> None:
        notice = cap_html(f"⚠️ {text}")[0]
        for admin in admin_ids:
            try:
                await sender.send(admin, None, notice)
            except SendError as e:
                log.warning("admin notice to %s not delivered: %s", admin, e)

    return notify


def _install_signal_handlers(callback: Callable[[], None]) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread, or not POSIX
            loop.add_signal_handler(sig, callback)


async def feeds_command(settings: Settings, config: Config, args: argparse.Namespace) -> str:
    """`python -m bot feeds ACTION`: the admin feed commands from a shell; returns the text to print.
    Raises CommandError or ConfigError (the CLI prints them and exits 1)."""
    if args.action == "export":
        opml = export_opml(config.feeds, utcnow())
        if args.output is None:
            return opml
        write_atomic(args.output, opml)
        return f"{count(len(config.feeds), 'feed')} written to {args.output}\n"
    async with open_runtime(settings, config) as rt:
        svc = AdminService(rt.ctx.db, settings, FileConfig(rt), FeedProbe(rt.ctx.fetcher, settings.web_url), surface=SHELL)
        if args.action == "list":
            texts = await svc.feeds("all")
        elif args.action == "add":
            texts = [await svc.add_feed(args.source, args.name, args.interval, check=not args.no_check)]
        elif args.action == "rm":
            texts = [await svc.remove_feed(args.feed)]
        else:
            try:
                data = args.file.read_bytes()
            except OSError as e:
                raise ConfigError(f"opml: cannot read {args.file}: {e.strerror}") from e
            texts = [await svc.import_feeds(parse_opml(data, str(args.file)))]
    return "\n\n".join(html_to_plain(t) for t in texts) + "\n"


def read_config(settings: Settings) -> Config:
    """Load feeds.yaml named by the settings (raises ConfigError)."""
    return load_config(settings.config_path, settings.web_url)
