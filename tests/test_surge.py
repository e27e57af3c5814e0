"""The surge decider, table-driven: replay generated histories as a live bot would and count the surges."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.trends.surge import (
    StoryTimes,
    SurgeRules,
    decide_surge,
    pick_top,
    replay_surges,
    same_hours_before,
    story_time,
)

START = datetime(2026, 10, 10, tzinfo=UTC)
DAYS = 12
RULES = SurgeRules()
PARIS = ZoneInfo("Europe/Paris")
_ids = itertools.count(1)


def per_hour(rate: float, days: int = DAYS, start: datetime = START) -> Iterator[tuple[int, datetime]]:
    """`rate` new stories an hour, evenly spread (fractional rates accumulate)."""
    owed = 0.0
    for h in range(days * 24):
        owed += rate
        n, owed = int(owed), owed - int(owed)
        for k in range(n):
            yield next(_ids), start + timedelta(hours=h, minutes=60 * k / n)


def growing(days: int = DAYS) -> Iterator[tuple[int, datetime]]:
    """Slow growth: 1 story an hour on the first day, 15% more each day."""
    for d in range(days):
        yield from per_hour(1.0 * 1.15**d, 1, START + timedelta(days=d))


def burst(n: int, at: datetime, minutes: int = 60, *, same_story: bool = False) -> list[tuple[int, datetime]]:
    """n stories (or n copies of one story) within `minutes` of `at`."""
    story = next(_ids)
    return [(story if same_story else next(_ids), at + timedelta(minutes=minutes * k / n)) for k in range(n)]


def daytime(zone: ZoneInfo, rate: int, hours: range, days: int = DAYS) -> list[tuple[int, datetime]]:
    """`rate` stories an hour during `hours` of the local day, none at night (a real newsroom's rhythm)."""
    out = []
    first = START.astimezone(zone).replace(hour=0, minute=0)
    for d in range(days):
        day = (first + timedelta(days=d)).replace(tzinfo=zone)  # wall-clock midnight, DST-aware
        for h in hours:
            for k in range(rate):
                out.append((next(_ids), (day + timedelta(hours=h, minutes=60 * k / rate)).astimezone(UTC)))
    return out


SPIKE_AT = START + timedelta(days=9, hours=10)


TABLE = [
    ("flat: 2 stories an hour", list(per_hour(2.0)), 0),
    ("slow growth: 15% a day", list(growing()), 0),
    ("one spike: 20 stories in an hour over 1 an hour", [*per_hour(1.0), *burst(20, SPIKE_AT)], 1),
    ("one story re-published 20 times", [*per_hour(1.0), *burst(20, SPIKE_AT, same_story=True)], 0),
    ("two spikes two days apart", [*per_hour(1.0), *burst(20, SPIKE_AT), *burst(20, SPIKE_AT + timedelta(days=2))], 2),
    ("a spike that lasts a day", [*per_hour(1.0), *burst(240, SPIKE_AT, minutes=24 * 60)], 1),
    ("night lull: 4 an hour 07-23 local, none at night", daytime(PARIS, 4, range(7, 23)), 0),
    ("night-time burst of 8 over the lull", [*daytime(PARIS, 4, range(7, 23)), *burst(8, SPIKE_AT.replace(hour=1))], 1),
    ("a spike below min_stories", [*burst(4, SPIKE_AT)], 0),
    ("a spike before a week of history", [*per_hour(1.0), *burst(30, START + timedelta(days=3))], 0),
]


@pytest.mark.parametrize(("name", "events", "expected"), TABLE, ids=[t[0] for t in TABLE])
def test_replay_raises_the_expected_surges(name: str, events: list[tuple[int, datetime]], expected: int) -> None:
    surges = replay_surges(StoryTimes(events), START, START + timedelta(days=DAYS), timedelta(minutes=15), PARIS, RULES)
    assert len(surges) == expected, surges


def test_one_spike_starts_within_the_hour_and_ends() -> None:
    events = [*per_hour(1.0), *burst(20, SPIKE_AT)]
    (surge,) = replay_surges(StoryTimes(events), START, START + timedelta(days=DAYS), timedelta(minutes=15), PARIS, RULES)
    assert SPIKE_AT <= surge.started_at <= SPIKE_AT + timedelta(hours=1)
    assert surge.baseline == 3.0 and surge.recent >= 12 and surge.peak == 23
    assert surge.ended_at is not None and surge.ended_at - SPIKE_AT <= timedelta(hours=4)


# A daily briefing: 8 stories between 09:00 and 09:30 Paris time, every day across the end of summer
# time (25 October 2026); the window is one hour so the briefing's hour matters.
DST_RULES = replace(RULES, window_h=1)
BRIEFING = daytime(PARIS, 16, range(9, 10), days=DAYS + 10)
BRIEFING = [(s, t) for s, t in BRIEFING if t.astimezone(PARIS).minute < 30]


def test_dst_change_keeps_the_daily_rhythm() -> None:
    stories = StoryTimes(BRIEFING)
    after = datetime(2026, 10, 25, 9, 45, tzinfo=PARIS)  # the first morning of winter time
    assert same_hours_before(after.astimezone(UTC), 1, PARIS) == after.astimezone(UTC) - timedelta(hours=25)
    d = decide_surge(stories, after.astimezone(UTC), PARIS, DST_RULES, active_threshold=None, history_start=START)
    assert (d.state, d.recent, d.baseline) == ("quiet", 8, 8.0)
    end = START + timedelta(days=DAYS + 10)
    assert replay_surges(stories, START, end, timedelta(minutes=15), PARIS, DST_RULES) == []


def test_dst_change_read_in_utc_would_raise_false_surges() -> None:
    """The same history judged with 24-hour days: after the change the briefing looks new every day."""
    end = START + timedelta(days=DAYS + 10)
    assert len(replay_surges(StoryTimes(BRIEFING), START, end, timedelta(minutes=15), ZoneInfo("UTC"), DST_RULES)) >= 3


@pytest.mark.parametrize(
    ("recent", "active", "state"),
    [
        (12, None, "start"),  # baseline 3 (1 an hour): threshold max(6, 4 x 3) = 12
        (11, None, "quiet"),
        (6, 12.0, "ongoing"),  # hysteresis: a surge under way stays on down to half its threshold
        (5, 12.0, "end"),
    ],
)
def test_threshold_and_hysteresis(recent: int, active: float | None, state: str) -> None:
    now = START + timedelta(days=9)
    base = [(s, t) for s, t in per_hour(1.0) if t < now - timedelta(hours=3)]
    events = base + burst(recent, now - timedelta(hours=3), minutes=170)
    d = decide_surge(StoryTimes(events), now, PARIS, RULES, active_threshold=active, history_start=START)
    assert (d.state, d.recent, d.baseline) == (state, recent, 3.0)
    assert d.is_surging == (state in ("start", "ongoing"))


def test_median_baseline_ignores_one_earlier_spike() -> None:
    now = START + timedelta(days=9, hours=12)
    events = [*per_hour(1.0), *burst(50, now - timedelta(days=2, hours=2))]
    d = decide_surge(StoryTimes(events), now, PARIS, RULES, active_threshold=None, history_start=START)
    assert d.baseline == 3.0


def test_counts_each_story_once_at_its_first_appearance() -> None:
    t = START + timedelta(days=1)
    stories = StoryTimes([(1, t), (1, t - timedelta(hours=5)), (2, t), (2, t), (3, t + timedelta(minutes=1))])
    assert len(stories) == 3
    assert stories.count(t - timedelta(hours=1), t + timedelta(hours=1)) == 2


@pytest.mark.parametrize(
    ("published", "expected"),
    [
        (START - timedelta(hours=2), START - timedelta(hours=2)),  # plausible: counted when published
        (START + timedelta(hours=2), START),  # in the future: when seen
        (datetime(1970, 1, 1, tzinfo=UTC), START),  # a broken date: when seen
        (None, START),
    ],
)
def test_story_time(published: datetime | None, expected: datetime) -> None:
    assert story_time(START, published) == expected


def test_pick_top_prefers_most_outlets_then_newest() -> None:
    assert pick_top([(1, 2, "a"), (2, 5, "b"), (3, 2, "c"), (4, 1, "d")], 3) == [(2, 5, "b"), (3, 2, "c"), (1, 2, "a")]
