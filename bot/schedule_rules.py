"""When to poll a feed next, and when a chat's next digest is due (pure).

A healthy feed is polled every `interval` seconds, give or take 10% jitter so that feeds sharing a
host do not fire together. Each consecutive failure doubles the wait, up to `max_backoff`; a
Retry-After from the server is honoured when it asks for longer.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

JITTER = 0.1


def next_delay(
    interval_s: int,
    error_count: int,
    retry_after: float | None = None,
    max_backoff_s: int = 6 * 3600,
    rnd: random.Random | None = None,
) -> float:
    """Seconds to wait before the next poll."""
    r = rnd or random
    if error_count <= 0:
        base = float(interval_s)
    else:
        base = min(float(max_backoff_s), interval_s * 2.0 ** min(error_count, 20))
        base = max(base, float(interval_s))
    delay = base * (1 + r.uniform(-JITTER, JITTER))
    if retry_after is not None:
        delay = max(delay, retry_after)
    return max(1.0, delay)


def next_poll_at(
    now: datetime,
    interval_s: int,
    error_count: int,
    retry_after: float | None = None,
    max_backoff_s: int = 6 * 3600,
    rnd: random.Random | None = None,
) -> datetime:
    """The time of the next poll."""
    return now + timedelta(seconds=next_delay(interval_s, error_count, retry_after, max_backoff_s, rnd))


def first_poll_at(now: datetime, stored_next: datetime | None, interval_s: int, rnd: random.Random | None = None) -> datetime:
    """When to poll a feed after a start: its stored time if still ahead, else soon, spread over a minute."""
    if stored_next is not None and stored_next > now:
        return stored_next
    r = rnd or random
    return now + timedelta(seconds=r.uniform(0, min(60.0, interval_s / 2)))


def parse_clock_times(values: Sequence[str]) -> tuple[str, ...]:
    """'8:00', '18:30' ... -> sorted unique 'HH:MM' strings; ValueError names the first bad one."""
    out: set[str] = set()
    for raw in values:
        parts = raw.strip().split(":")
        if len(parts) != 2 or not all(p.isdigit() for p in parts) or len(parts[1]) != 2:
            raise ValueError(f"{raw!r} is not a time of day like 08:00")
        hour, minute = int(parts[0]), int(parts[1])
        if hour > 23 or minute > 59:
            raise ValueError(f"{raw!r} is not a time of day like 08:00")
        out.add(f"{hour:02d}:{minute:02d}")
    if not out:
        raise ValueError("give at least one time of day, like 08:00")
    return tuple(sorted(out))


def next_digest_at(times: Sequence[str], timezone: str, after: datetime) -> datetime:
    """The first of the daily local `times` strictly after `after`, in UTC.

    Local times are resolved in the zone on each date, so a digest set for 08:00 stays at 08:00 across
    DST changes; a time skipped by a spring-forward gap fires at the shifted instant (PEP 495, fold=0),
    and a repeated autumn hour fires once, at its first occurrence.
    """
    zone = ZoneInfo(timezone)
    local_day = after.astimezone(zone).date()
    for offset in range(3):
        day = local_day + timedelta(days=offset)
        for t in sorted(times):
            hour, minute = (int(x) for x in t.split(":"))
            candidate = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).astimezone(UTC)
            if candidate > after:
                return candidate
    raise ValueError("no digest times given")
