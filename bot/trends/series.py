"""Counts over time, ready to draw and to caption. Pure: no clock, no I/O.

Buckets are read on the wall clock of the reader's zone: a day runs from local midnight to local
midnight (23 or 25 hours across a DST change); hours are real hours, labelled in local time. The last
bucket is the one `end` falls in, so today's (or this hour's) count is partial.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

PERIODS = {"7d": 7, "30d": 30, "90d": 90}  # /trend's periods; 7 days are drawn per hour


@dataclass(frozen=True)
class Series:
    """Named counts over consecutive buckets (`starts` are local, aware)."""

    label: str
    starts: list[datetime]
    counts: list[int]

    @property
    def total(self) -> int:
        """The sum of the counts."""
        return sum(self.counts)

    @property
    def peak(self) -> int:
        """Index of the highest bucket (the latest of equal ones); -1 when every count is 0."""
        if not any(self.counts):
            return -1
        best = max(self.counts)
        return max(i for i, c in enumerate(self.counts) if c == best)


@dataclass(frozen=True)
class Chart:
    """What a chart shows: a title, one or more series on a shared axis, and the zone it is read in."""

    title: str
    hourly: bool
    zone: str
    series: list[Series]
    highlight_from: datetime | None = None  # shade the buckets from here on (a surge's window)
    notes: list[str] = field(default_factory=list)


def bucket_starts(end: datetime, days: int, zone: ZoneInfo, *, hourly: bool) -> list[datetime]:
    """The starts of the buckets covering the `days` days up to `end`, oldest first."""
    local = end.astimezone(zone)
    if hourly:
        last = local.replace(minute=0, second=0, microsecond=0)
        hours = days * 24
        return [(last.astimezone(UTC) - timedelta(hours=hours - 1 - i)).astimezone(zone) for i in range(hours)]
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return [_wall(midnight - timedelta(days=days - 1 - i), zone) for i in range(days)]


def _wall(dt: datetime, zone: ZoneInfo) -> datetime:
    """A wall-clock time re-read in its zone (fixes the UTC offset after calendar arithmetic)."""
    return dt.replace(tzinfo=None).replace(tzinfo=zone)


def count_into(starts: Sequence[datetime], end: datetime, times: Iterable[datetime]) -> list[int]:
    """How many of `times` fall in each bucket [starts[i], starts[i+1]), the last one ending at `end`."""
    counts = [0] * len(starts)
    utc = [s.astimezone(UTC) for s in starts]  # same-zone datetimes compare by wall clock: not across DST
    for t in times:
        i = bucket_of(utc, end, t)
        if i is not None:
            counts[i] += 1
    return counts


def bucket_of(utc_starts: Sequence[datetime], end: datetime, t: datetime) -> int | None:
    """The bucket `t` falls in (starts given in UTC), or None when it is outside them all."""
    if not utc_starts or not utc_starts[0] <= t < end:
        return None
    return bisect.bisect_right(utc_starts, t) - 1


def bucket_end(starts: Sequence[datetime], index: int, end: datetime) -> datetime:
    """Where bucket `index` ends."""
    return starts[index + 1] if index + 1 < len(starts) else end


def period_days(word: str | None) -> int | None:
    """7d|30d|90d (or 7|30|90) to a number of days; None when it is none of these."""
    if word is None:
        return 30
    key = word.lower() if word.lower().endswith("d") else f"{word}d"
    return PERIODS.get(key)
