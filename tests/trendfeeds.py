"""Generated feed histories for trend charts and surge alerts: one story per item, dated in the past.

Every title is built from its own rare words, so the clustering keeps each item its own story; a
spike is many different stories in a short time, a re-publication is one story under many links.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from email.utils import format_datetime

PLACES = [
    "Oslo",
    "Riga",
    "Vilnius",
    "Tallinn",
    "Warsaw",
    "Prague",
    "Vienna",
    "Lisbon",
    "Madrid",
    "Dublin",
    "Helsinki",
    "Sofia",
    "Zagreb",
    "Bratislava",
    "Bucharest",
]
SUBJECTS = [
    "drones",
    "tanks",
    "budget",
    "sanctions",
    "pipeline",
    "airspace",
    "exercise",
    "summit",
    "shipyard",
    "satellites",
    "radar",
    "ammunition",
    "treaty",
    "ceasefire",
    "grain",
]
VERBS = ["warns", "urges", "praises", "questions", "doubts", "backs", "rejects", "signs"]


def headline(n: int, name: str) -> str:
    """The n-th distinct headline about `name`."""
    place = PLACES[n % len(PLACES)]
    subject = SUBJECTS[(n // len(PLACES)) % len(SUBJECTS)]
    verb = VERBS[(n // (len(PLACES) * len(SUBJECTS))) % len(VERBS)]
    return f"{name} {verb} {place} on {subject} plan {n}"


def item(n: int, name: str, at: datetime, *, link: int | None = None) -> dict[str, str]:
    """An RSS item (see tests.feedserver.rss) published at `at`."""
    return {
        "title": headline(n, name),
        "link": f"https://news.example/{link if link is not None else n}",
        "guid": f"g{n}",
        "pubDate": format_datetime(at),
    }


def history(now: datetime, name: str, *, days: int = 8, per_day: int = 4, start: int = 0) -> list[dict[str, str]]:
    """`per_day` stories a day about `name` for `days` days before `now`, spread over the day."""
    ids = itertools.count(start)
    out = []
    for d in range(days, 0, -1):
        for k in range(per_day):
            out.append(item(next(ids), name, now - timedelta(days=d) + timedelta(hours=24 * k / per_day)))
    return out


def spike(now: datetime, name: str, n: int, *, start: int, minutes: int = 90) -> list[dict[str, str]]:
    """`n` different stories about `name` in the last `minutes` before `now`."""
    return [item(start + k, name, now - timedelta(minutes=minutes * (k + 1) / (n + 1))) for k in range(n)]
