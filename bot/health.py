"""Feed health rules (pure: data in, decisions out; the app sends the notices and pauses the feed).

- After `alert_after` consecutive failures the admins get one message (on exactly that failure, so a
  feed failing for a week does not write every hour), and one more when it next succeeds.
- A feed failing without a break for `pause_after` is paused with the reason; an admin resumes it.
- A feed with no new item for `stale_days` is flagged in /feeds (it may have moved or died quietly).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from zoneinfo import ZoneInfo

from bot.config import Config
from bot.dates import format_when
from storage.feeds import FeedState


@dataclass(frozen=True)
class HealthPolicy:
    """When admins are told about a feed, and when it is paused."""

    alert_after: int = 3
    pause_after: timedelta = timedelta(days=7)
    stale_after: timedelta = timedelta(days=7)

    @classmethod
    def of(cls, config: Config) -> HealthPolicy:
        """The policy set in feeds.yaml's settings."""
        return cls(config.alert_after, timedelta(seconds=config.pause_after_s), timedelta(days=config.stale_days))


class HealthEvent(Enum):
    """What a poll's outcome means for the admins."""

    FAILING = "failing"
    RECOVERED = "recovered"
    PAUSE = "pause"


def health_event(
    policy: HealthPolicy,
    failed: bool,
    errors_before: int,
    error_count: int,
    failing_since: datetime | None,
    now: datetime,
) -> HealthEvent | None:
    """The event (if any) of one poll: `error_count` failures in a row now, `errors_before` before it."""
    if not failed:
        return HealthEvent.RECOVERED if errors_before >= policy.alert_after else None
    if failing_since is not None and now - failing_since >= policy.pause_after:
        return HealthEvent.PAUSE
    if error_count == policy.alert_after:
        return HealthEvent.FAILING
    return None


class Condition(Enum):
    """A feed's condition as /feeds and /stats show it."""

    OK = "ok"
    NEW = "not polled yet"
    FAILING = "failing"
    PAUSED = "paused"
    STALE = "stale"


def feed_condition(state: FeedState, enabled: bool, now: datetime, policy: HealthPolicy) -> Condition:
    """Classify a feed from its stored state (pause first, then failure, then staleness)."""
    if not enabled or state.paused_reason:
        return Condition.PAUSED
    if state.error_count:
        return Condition.FAILING
    if state.last_polled_at is None:
        return Condition.NEW
    newest = state.last_new_item_at
    if newest is None or now - newest >= policy.stale_after:
        return Condition.STALE
    return Condition.OK


def describe_condition(state: FeedState, enabled: bool, now: datetime, policy: HealthPolicy, zone: ZoneInfo) -> str:
    """One line for /feeds: the condition with its why and since when (times in `zone`)."""
    cond = feed_condition(state, enabled, now, policy)
    if cond is Condition.PAUSED:
        return f"⏸ paused: {state.paused_reason}" if state.paused_reason else "⏸ paused by an admin"
    if cond is Condition.FAILING:
        since = format_time(state.failing_since, zone, now) if state.failing_since else "?"
        return f"❌ failing since {since} ({state.error_count} failed polls in a row): {state.last_error or 'unknown error'}"
    if cond is Condition.NEW:
        return "🕓 not polled yet"
    last = f"last new item {format_time(state.last_new_item_at, zone, now)}" if state.last_new_item_at else "no item yet"
    if cond is Condition.STALE:
        return f"💤 stale: {last}"
    return f"✅ ok · {last}"


def format_time(when: datetime | None, zone: ZoneInfo, now: datetime) -> str:
    """'today 14:05', 'yesterday 09:30', '25 Nov 14:05' in the zone, relative to `now` (bot.dates);
    '-' for no time."""
    return format_when(when, now, zone.key, unknown="-")
