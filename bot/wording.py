"""Words for counts and spans, and the names of commands where an answer is read (pure).

An answer says "1 item" and "2 items"; a hint names the command of the place it is read in: a
Telegram chat (`/feeds`) or a shell (`python -m bot feeds list`).
"""

from __future__ import annotations

from dataclasses import dataclass


def count(n: int, singular: str, plural: str | None = None) -> str:
    """'1 item', '0 items', '2 items' ('story' -> 'stories'; an irregular plural is given)."""
    if n == 1:
        return f"1 {singular}"
    if plural is None:
        plural = singular[:-1] + "ies" if singular.endswith("y") and singular[-2:-1] not in "aeiou" else singular + "s"
    return f"{n} {plural}"


def duration_words(seconds: float) -> str:
    """A span in the largest unit it is a whole number of: 45 -> '45 seconds', 300 -> '5 minutes',
    5400 -> '90 minutes', 172800 -> '2 days', 0.5 -> '0.5 seconds'."""
    if seconds != int(seconds):
        return f"{seconds:g} seconds"
    whole = int(seconds)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if whole >= size and whole % size == 0:
            return count(whole // size, unit)
    return count(whole, "second")


@dataclass(frozen=True)
class Surface:
    """How an answer names the commands it points to, where it is read."""

    list_feeds: str  # lists the feeds with their numbers
    list_all_feeds: str  # lists every feed in full
    add_feed: str  # an example of adding a feed


TELEGRAM = Surface(
    list_feeds="/feeds",
    list_all_feeds="/feeds all",
    add_feed="/addfeed https://example.org/feed.xml",
)
SHELL = Surface(
    list_feeds="python -m bot feeds list",
    list_all_feeds="python -m bot feeds list",
    add_feed="python -m bot feeds add https://example.org/feed.xml",
)
