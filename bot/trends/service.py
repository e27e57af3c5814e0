"""Trend charts on request: `/trend <topic> [7d|30d|90d]` in Telegram and `python -m bot trend` in a shell.

Reads the topic's stories from SQLite, counts them per hour or day in the reader's zone, draws the
chart off the event loop (matplotlib in a worker thread) and writes the caption.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.delivery.render import echo, esc
from bot.errors import CommandError
from bot.models import watch_key
from bot.subscribers import Catalog
from bot.trends.series import PERIODS, Chart, period_days
from bot.trends.text import stats_chart, trend_caption, trend_chart
from storage.db import AsyncDB, utcnow
from storage.trends import StoryRow, hourly_totals, topic_stories
from storage.watches import WATCH_MARK, find_watch

USAGE = "Usage: /trend topic [7d|30d|90d], e.g. /trend rutte 7d"


@dataclass(frozen=True)
class TrendAnswer:
    """A chart ready to send: PNG bytes and an HTML caption."""

    png: bytes
    caption: str
    chart: Chart


async def draw(chart: Chart) -> bytes:
    """Render a chart in a worker thread (drawing takes a fraction of a second of CPU)."""
    from bot.trends.chart import render_png  # matplotlib is imported only when a chart is drawn

    return await asyncio.to_thread(render_png, chart)


class TrendService:
    """Answers trend requests from the stored stories."""

    def __init__(self, db: AsyncDB, catalog: Catalog, clock: Callable[[], datetime] = utcnow) -> None:
        self.db, self.catalog, self.clock = db, catalog, clock

    def parse(self, words: Sequence[str]) -> tuple[str, str, int]:
        """(topic id, its name, days) from the command's words; CommandError says what is wrong."""
        topic_words, days = self.parse_period(words)
        found = self.resolve_topic(topic_words)
        if found is None:
            raise CommandError(self._unknown(topic_words))
        return *found, days

    def parse_period(self, words: Sequence[str]) -> tuple[list[str], int]:
        """The words naming the topic or watch, and the period's days (30 when none is given)."""
        if not words:
            raise CommandError(f"{USAGE}. Topics: {', '.join(t.id for t in self.catalog.topics) or 'none'}")
        period = words[-1] if len(words) > 1 and period_days(words[-1]) is not None else None
        if len(words) > 1 and period is None and words[-1][:1].isdigit():
            raise CommandError(f"{echo(words[-1])} is not a period: use {', '.join(PERIODS)}")
        days = period_days(period)
        assert days is not None
        return list(words[:-1] if period else words), days

    def resolve_topic(self, topic_words: Sequence[str]) -> tuple[str, str] | None:
        """(topic id, name) for the words (an id or a name), None when they name no topic."""
        found, unknown = self.catalog.resolve([" ".join(topic_words)])
        if not found:
            found, unknown = self.catalog.resolve(topic_words)
        if len(found) > 1 and not unknown:
            raise CommandError(f"One topic at a time. {USAGE}")
        if unknown or not found:
            return None
        return found[0], self.catalog.names.get(found[0], found[0])

    def _unknown(self, topic_words: Sequence[str]) -> str:
        return f"No topic or watch {echo(' '.join(topic_words))}. /topics and /watches list them."

    async def trend(self, words: Sequence[str], zone: str, chat_id: int | None = None) -> TrendAnswer:
        """The chart and caption for `/trend` words, read in `zone`: a topic, else one of the chat's watches."""
        topic_words, days = self.parse_period(words)
        found = self.resolve_topic(topic_words)
        if found is None and chat_id is not None:
            watch = await self.db.run(find_watch, chat_id, " ".join(topic_words))
            if watch is not None:
                found = watch_key(watch.id), f"{WATCH_MARK} {watch.label}"
        if found is None:
            raise CommandError(self._unknown(topic_words))
        return await self.answer(found[0], found[1], days, ZoneInfo(zone))

    async def answer(self, topic: str, name: str, days: int, zone: ZoneInfo) -> TrendAnswer:
        """The chart of one topic over `days` days up to now."""
        now = self.clock()
        rows: list[StoryRow] = await self.db.run(topic_stories, [topic], now - timedelta(days=days + 1))
        chart = trend_chart(name, rows, now, days, zone)
        return TrendAnswer(await draw(chart), trend_caption(name, chart, rows, now), chart)

    async def health(self, days: int = 30) -> TrendAnswer:
        """/stats' picture: items, hits and failing feeds per day in the bot's zone."""
        now = self.clock()
        totals = await self.db.run(hourly_totals, now - timedelta(days=days + 1))
        chart = stats_chart(totals, now, days, ZoneInfo(self.catalog.timezone))
        caption = f"Items, hits and failing feeds per day, {days} days ({esc(self.catalog.timezone)})"
        return TrendAnswer(await draw(chart), caption, chart)
