"""Dates as a reader reads them (pure: `now` is always passed in; imports nothing from the project).

Rules, in order:
1. Every moment is shown in the reader's zone (an IANA name such as Europe/Paris); a naive datetime
   is taken as UTC. An unknown zone name falls back to UTC rather than failing.
2. The day is "today" or "yesterday" when the moment falls on the reader's current or previous
   calendar day in that zone (so across a DST change or at 00:30 local time the word is still right);
   "tomorrow" for the next day (feeds sometimes date items ahead); otherwise "13 Jun", with the year
   ("13 Jun 2025") only when it is not the reader's current year.
3. The time is 24-hour "14:05" in that zone; at a DST fall-back the repeated hour reads the same twice.
4. The zone is named by the caller, once per message (`zone_label`): "Paris time", "Seoul time",
   "New York time", "UTC". A city name, not an abbreviation, so one label stays true for times on
   both sides of a DST change.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/GMT", "GMT", "Etc/Universal", "Universal", "Zulu", "Etc/Zulu"})


@cache
def zone_of(name: str) -> ZoneInfo:
    """The ZoneInfo for an IANA name; UTC when the name is empty or unknown."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def to_local(moment: datetime, zone: str) -> datetime:
    """`moment` in the zone (a naive moment is taken as UTC)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(zone_of(zone))


def format_day(moment: datetime, now: datetime, zone: str) -> str:
    """The day in the zone: "today", "yesterday", "tomorrow", "13 Jun" (this year) or "13 Jun 2025"."""
    day = to_local(moment, zone).date()
    today = to_local(now, zone).date()
    word = _relative_word(day, today)
    if word:
        return word
    if day.year == today.year:
        return f"{day.day} {day.strftime('%b')}"
    return f"{day.day} {day.strftime('%b')} {day.year}"


def format_time(moment: datetime, zone: str) -> str:
    """The 24-hour clock time in the zone: "14:05"."""
    return to_local(moment, zone).strftime("%H:%M")


def format_when(moment: datetime | None, now: datetime, zone: str, *, unknown: str = "") -> str:
    """Day and time as a reader reads them: "today 14:05", "yesterday 23:40", "13 Jun 14:00",
    "13 Jun 2025 14:00"; `unknown` when there is no moment."""
    if moment is None:
        return unknown
    return f"{format_day(moment, now, zone)} {format_time(moment, zone)}"


def format_short(moment: datetime | None, now: datetime, zone: str, *, unknown: str = "") -> str:
    """Like format_when, but only the time for a moment earlier or later today ("14:05"): for lists
    whose reader already knows the day from the message around them."""
    if moment is None:
        return unknown
    if to_local(moment, zone).date() == to_local(now, zone).date():
        return format_time(moment, zone)
    return format_when(moment, now, zone)


def zone_label(zone: str) -> str:
    """How a message names its zone, once: "Paris time", "New York time", "UTC"."""
    name = zone_of(zone).key
    if name in _UTC_NAMES:
        return "UTC"
    if "/" not in name or name.startswith("Etc/"):
        return name
    return name.rsplit("/", 1)[1].replace("_", " ") + " time"


def _relative_word(day: date, today: date) -> str:
    if day == today:
        return "today"
    if day == today - timedelta(days=1):
        return "yesterday"
    if day == today + timedelta(days=1):
        return "tomorrow"
    return ""
