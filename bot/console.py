"""What `python -m bot run` tells its operator on the console (the log, at INFO).

- At start, where alerts go: to the console (no TELEGRAM_BOT_TOKEN) or to Telegram as @botname.
- Every `summary_s` seconds (a minute by default), one line: feeds polled, new items, hits, messages
  sent, and the feeds failing now, named.
- After a poll whose hits were kept but not sent because of `max_age`, one line with their count.
- Log times in the config's time zone, with its UTC offset, like every other time the console shows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.wording import count, duration_words

if TYPE_CHECKING:  # `python -m bot` imports this module for its log times: it stays light
    from bot.models import FeedConfig
    from bot.pipeline import PollOutcome

log = logging.getLogger(__name__)

SHOWN_FAILING = 3  # failing feeds named in a summary line; the rest are counted


def alerts_destination(bot_username: str | None) -> str:
    """The start line saying where alerts go."""
    if bot_username is None:
        return "alerts go to the console (TELEGRAM_BOT_TOKEN is not set): each is printed on standard output"
    return f"alerts go to Telegram as @{bot_username}"


def held_notice(outcome: PollOutcome, max_age_s: int | None) -> str | None:
    """The line for a poll whose new hits were kept but not sent because of `max_age` (None when none were)."""
    held = sum(1 for h in outcome.hits if h.held)
    if not held:
        return None
    age = duration_words(max_age_s) if max_age_s else "max_age"
    return (
        f"feed={outcome.feed.name}: {count(held, 'hit')} kept but not sent: "
        f"{'its item was' if held == 1 else 'their items were'} published more than {age} before the feed was first read "
        "(settings.max_age)"
    )


class RunSummary:
    """Counts what the polls did and logs it as one line every `every_s` seconds."""

    def __init__(
        self,
        every_s: float,
        feeds: Callable[[], Iterable[FeedConfig]],
        sent: Callable[[], int],
        max_age_s: Callable[[], int | None],
    ) -> None:
        self.every_s, self.feeds, self.sent, self.max_age_s = every_s, feeds, sent, max_age_s
        self.failing: dict[str, str] = {}  # feed source -> its last error, while its last poll failed
        self._reset(sent())

    def _reset(self, sent_before: int) -> None:
        self.polled: set[str] = set()
        self.new_items = 0
        self.hits = 0
        self.held = 0
        self.sent_before = sent_before

    def after_poll(self, outcome: PollOutcome) -> None:
        """Count one poll; log the `max_age` notice when it kept hits back."""
        source = outcome.feed.source
        self.polled.add(source)
        self.new_items += outcome.new_items
        self.hits += len(outcome.hits)
        if outcome.error is not None:
            self.failing[source] = outcome.error
        else:
            self.failing.pop(source, None)
        notice = held_notice(outcome, self.max_age_s())
        if notice is not None:
            self.held += sum(1 for h in outcome.hits if h.held)
            log.info("%s", notice)

    def line(self) -> str:
        """The summary of the polls since the last line; starts a new period."""
        feeds = {f.source: f.name for f in self.feeds()}
        failing = [feeds[s] for s in self.failing if s in feeds]
        sent = self.sent()
        parts = [
            f"{count(len(self.polled), 'feed')} polled",
            count(self.new_items, "new item"),
            count(self.hits, "hit") + (f" ({self.held} kept, not sent: max_age)" if self.held else ""),
            f"{count(sent - self.sent_before, 'message')} sent",
        ]
        if failing:
            named = ", ".join(failing[:SHOWN_FAILING]) + (
                f" and {len(failing) - SHOWN_FAILING} more" if len(failing) > SHOWN_FAILING else ""
            )
            parts.append(f"{count(len(failing), 'feed')} failing: {named}")
        else:
            parts.append("no feed failing")
        self._reset(sent)
        span = "minute" if self.every_s == 60 else duration_words(self.every_s)
        return f"last {span}: " + ", ".join(parts)

    async def run(self, stop: asyncio.Event) -> None:
        """Log a summary line every `every_s` seconds until `stop` is set."""
        while True:
            try:
                await asyncio.wait_for(stop.wait(), self.every_s)
                return
            except TimeoutError:
                log.info("%s", self.line())


class ZoneFormatter(logging.Formatter):
    """Log times in one time zone, with its UTC offset (2026-10-21 14:05:09+02:00)."""

    def __init__(self, fmt: str, zone: ZoneInfo) -> None:
        super().__init__(fmt)
        self.zone = zone

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """The record's time in the zone."""
        return datetime.fromtimestamp(record.created, self.zone).isoformat(sep=" ", timespec="seconds")


def log_in_zone(timezone: str) -> None:
    """Show the times of the root logger's handlers in `timezone`."""
    zone = ZoneInfo(timezone)
    for handler in logging.getLogger().handlers:
        fmt = handler.formatter._fmt if handler.formatter is not None else None
        handler.setFormatter(ZoneFormatter(fmt or "%(asctime)s %(levelname)s %(name)s: %(message)s", zone))
