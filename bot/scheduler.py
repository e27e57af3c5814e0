"""APScheduler jobs: one self-rescheduling poll job per feed.

Each feed has one date-triggered job; when a poll ends, the job is added again for the time the
pipeline chose (interval with jitter, or back-off after errors), and that time is stored, so a
restart keeps the feed's schedule. A feed is never polled twice at once: the next job exists only
after the current poll has finished, and a guard set refuses overlaps.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.models import FeedConfig
from bot.pipeline import PollContext, PollOutcome, poll_feed
from bot.schedule_rules import first_poll_at

log = logging.getLogger(__name__)

OutcomeHandler = Callable[[PollOutcome], Awaitable[None]]


class FeedScheduler:
    """Keeps one poll job per enabled feed in an AsyncIOScheduler."""

    def __init__(self, scheduler: AsyncIOScheduler, ctx: PollContext, on_outcome: OutcomeHandler) -> None:
        self.scheduler = scheduler
        self.ctx = ctx
        self.on_outcome = on_outcome
        self.feeds: dict[str, tuple[FeedConfig, int]] = {}
        self._running: set[str] = set()

    @staticmethod
    def job_id(source: str) -> str:
        """The APScheduler job id of a feed."""
        return f"poll:{source}"

    def set_feeds(self, feeds: list[tuple[FeedConfig, int, datetime | None]], now: datetime) -> None:
        """Schedule the enabled feeds, unschedule the others; a feed already scheduled keeps its time."""
        wanted = {f.source: (f, fid, nxt) for f, fid, nxt in feeds if f.enabled}
        for source in list(self.feeds):
            if source not in wanted:
                self.unschedule(source)
        for source, (feed, fid, nxt) in wanted.items():
            old = self.feeds.get(source)
            self.feeds[source] = (feed, fid)
            job = self.scheduler.get_job(self.job_id(source))
            if source in self._running:
                continue  # the poll under way schedules the next one with the new interval
            if old is not None and job is not None:
                if old[0].interval_s != feed.interval_s:  # a shorter interval applies now, not after the old wait
                    self._schedule(source, min(job.next_run_time, now + timedelta(seconds=feed.interval_s)))
                continue
            self._schedule(source, first_poll_at(now, nxt, feed.interval_s))

    def unschedule(self, source: str) -> None:
        """Stop polling one feed (a poll under way finishes and is not followed by another)."""
        self.feeds.pop(source, None)
        if self.scheduler.get_job(self.job_id(source)):
            self.scheduler.remove_job(self.job_id(source))

    def _schedule(self, source: str, when: datetime) -> None:
        self.scheduler.add_job(
            self.poll_job,
            "date",
            run_date=when,
            args=[source],
            id=self.job_id(source),
            replace_existing=True,
            misfire_grace_time=None,
            coalesce=True,
            max_instances=1,
        )

    async def poll_job(self, source: str) -> None:
        """Poll one feed, hand the outcome on, schedule the next poll."""
        entry = self.feeds.get(source)
        if entry is None or source in self._running:
            return
        feed, feed_id = entry
        self._running.add(source)
        when = self.ctx.clock() + timedelta(seconds=feed.interval_s)
        try:
            outcome = await poll_feed(self.ctx, feed, feed_id)
            when = outcome.next_poll_at
            await self.on_outcome(outcome)
        except asyncio.CancelledError:  # the bot is stopping mid-poll: the next start polls the feed again
            log.info("poll stopped by shutdown feed=%s url=%s", feed.name, feed.url)
            return
        except Exception:  # the job's top level: a bug in one poll must not stop this feed for good
            log.exception("poll job crashed feed=%s url=%s; next try at %s", feed.name, feed.url, when)
        finally:
            self._running.discard(source)
        if source in self.feeds:
            self._schedule(source, when)
