"""The surge check: every few minutes, ask the decider about each topic (and each personal watch of a
chat that opted in) and record what it says.

The rules live in bot.trends.surge; this module reads the topic's stories, passes the open surge's
threshold (hysteresis) and writes the outcome: a start queues one alert per opted-in chat (storage/
surges.py, one transaction), an end closes the surge so the next one alerts again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.subscribers import Catalog
from bot.trends.surge import StoryTimes, SurgeRules, decide_surge
from bot.trends.text import story_times, top_stories
from storage.db import AsyncDB, utcnow
from storage.surges import end_surge, open_surges, start_surge, watched_keys
from storage.trends import history_start, topic_stories

log = logging.getLogger(__name__)


class SurgeWatcher:
    """Runs the decider over every topic and records surges."""

    def __init__(
        self, db: AsyncDB, catalog: Catalog, rules: SurgeRules | None = None, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.db, self.catalog, self.clock = db, catalog, clock
        self.rules = rules or SurgeRules()

    async def check(self) -> int:
        """Decide for every topic now; return the number of alerts queued."""
        now = self.clock()
        began = await self.db.run(history_start)
        if began is None:
            return 0
        surges = await self.db.run(open_surges)
        zone = ZoneInfo(self.catalog.timezone)  # the news rhythm is read on the bot's own clock
        since = now - timedelta(days=self.rules.baseline_days + 1, hours=self.rules.window_h)
        queued = 0
        keys = [t.id for t in self.catalog.topics] + await self.db.run(watched_keys)
        for key in keys:
            rows = await self.db.run(topic_stories, [key], since)
            open_surge = surges.get(key)
            threshold = open_surge.threshold if open_surge else None
            d = decide_surge(
                StoryTimes(story_times(rows)), now, zone, self.rules, active_threshold=threshold, history_start=began
            )
            if d.state == "start":
                top = top_stories(rows, now - timedelta(hours=self.rules.window_h), now + timedelta(seconds=1))
                ids = [r.story_id for r in top]
                surge_id, n = await self.db.run(
                    start_surge, key, now, d.recent, d.baseline, d.threshold, self.rules.window_h, ids
                )
                log.info("surge: %s: %d stories in %d h (usually %g): surge %d, %d alerts", key, d.recent,
                         self.rules.window_h, d.baseline, surge_id, n)  # fmt: skip
                queued += n
            elif d.state == "end" and open_surge is not None:
                await self.db.run(end_surge, open_surge.id, now)
                log.info("surge: %s calmed down (%d stories in %d h)", key, d.recent, self.rules.window_h)
        return queued
