"""When to poll a feed next (pure).

A healthy feed is polled every `interval` seconds, give or take 10% jitter so that feeds sharing a
host do not fire together. Each consecutive failure doubles the wait, up to `max_backoff`; a
Retry-After from the server is honoured when it asks for longer.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

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
