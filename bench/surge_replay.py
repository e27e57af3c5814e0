"""Choose the surge thresholds by replaying histories: `python bench/surge_replay.py [--days 60] [--seed 1]`.

1. Generated: three topics (0.2, 1 and 3 new stories an hour on average) over `--days` days, with a
   newsroom's rhythm (quiet nights in Europe/Paris), busy and slow days (a daily factor drawn from a
   log-normal: real news is burstier than a Poisson stream), one story re-published 20 times on some
   days (one story, not a surge), and take-offs injected at random: 3, 5 or 10 times the usual rate for
   2 to 6 hours. Every rule set of a grid is replayed every 10 minutes as the bot would run it; a
   surge that starts during a take-off (or within its window after) is a hit, any other is a false
   alert. Printed per rule set: take-offs found (by size), false alerts per topic-month.
2. Real: ../shared/corpus/stories/events.tsv, the reports of independent outlets labelled by event
   (story = event). Its Russian part (July to November 2025) is replayed with the chosen rules, and
   every surge is printed with the events behind it, to judge whether it was real.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import math
import random
import sys
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.trends.surge import ReplayedSurge, StoryTimes, SurgeRules, replay_surges

ZONE = ZoneInfo("Europe/Paris")
START = datetime(2026, 1, 5, tzinfo=UTC)
STEP = timedelta(minutes=10)
EVENTS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "stories" / "events.tsv"


@dataclass(frozen=True)
class TakeOff:
    """An injected take-off: `factor` times the usual rate from `start` for `hours`."""

    start: datetime
    hours: int
    factor: int


def rhythm(at: datetime) -> float:
    """Relative activity by local hour: low at night, highest in the morning and early evening."""
    hour = at.astimezone(ZONE).hour
    return 0.15 if hour < 6 else 1.4 if 7 <= hour <= 10 or 17 <= hour <= 20 else 1.0


def generate(rate: float, days: int, rng: random.Random) -> tuple[list[tuple[int, datetime]], list[TakeOff]]:
    """One topic's story events and the take-offs injected into it."""
    ids = itertools.count(1)
    events: list[tuple[int, datetime]] = []
    take_offs: list[TakeOff] = []
    for d in range(days):
        day_factor = rng.lognormvariate(0, 0.5)
        if d >= 8 and rng.random() < 0.12:  # about 3 take-offs a month, after a week of history
            take_offs.append(
                TakeOff(START + timedelta(days=d, hours=rng.randrange(6, 20)), rng.choice([2, 3, 6]), rng.choice([3, 5, 10]))
            )
        if rng.random() < 0.2:  # a wire story re-published 20 times in an hour: one story
            story, at = next(ids), START + timedelta(days=d, hours=rng.randrange(24))
            events += [(story, at + timedelta(minutes=3 * k)) for k in range(20)]
        for h in range(24):
            at = START + timedelta(days=d, hours=h)
            lam = rate * rhythm(at) * day_factor
            lam *= next((t.factor for t in take_offs if t.start <= at < t.start + timedelta(hours=t.hours)), 1)
            for _ in range(_poisson(lam, rng)):
                events.append((next(ids), at + timedelta(seconds=rng.randrange(3600))))
    return events, take_offs


def _poisson(lam: float, rng: random.Random) -> int:
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def score(surges: list[ReplayedSurge], take_offs: list[TakeOff], window_h: int) -> tuple[list[TakeOff], int]:
    """The take-offs found, and the surges that match none."""
    found, false = [], 0
    for s in surges:
        hit = next((t for t in take_offs if t.start <= s.started_at <= t.start + timedelta(hours=t.hours + window_h)), None)
        if hit is None:
            false += 1
        elif hit not in found:
            found.append(hit)
    return found, false


def grid() -> list[SurgeRules]:
    """The rule sets compared."""
    return [
        SurgeRules(window_h=w, min_stories=m, ratio=r) for w, m, r in itertools.product((1, 3, 6), (4, 6, 8), (2.0, 3.0, 4.0))
    ]


def replay_generated(days: int, seed: int) -> None:
    """Part 1: print each rule set's take-offs found and false alerts."""
    rng = random.Random(seed)
    topics = {rate: generate(rate, days, rng) for rate in (0.2, 1.0, 3.0)}
    injected = sum(len(t) for _, t in topics.values())
    print(f"generated: 3 topics x {days} days, {injected} take-offs injected "
          f"({', '.join(f'{r}/h: {len(t)}' for r, (_, t) in topics.items())})")  # fmt: skip
    print("window  min  ratio | found x3  x5  x10 | false alerts (per topic-month) | by rate 0.2 1 3")
    end = START + timedelta(days=days)
    for rules in grid():
        found_by: dict[int, list[int]] = {3: [0, 0], 5: [0, 0], 10: [0, 0]}
        false_by = []
        for _rate, (events, take_offs) in topics.items():
            surges = replay_surges(StoryTimes(events), START, end, STEP, ZONE, rules)
            found, false = score(surges, take_offs, rules.window_h)
            false_by.append(false)
            for t in take_offs:
                found_by[t.factor][1] += 1
                found_by[t.factor][0] += t in found
        per_month = sum(false_by) / (3 * days / 30)
        cells = " ".join(f"{f}/{n}" for f, n in found_by.values())
        print(
            f"{rules.window_h:>4} h {rules.min_stories:>4} {rules.ratio:>5g} | {cells:>17} | {sum(false_by):>4} ({per_month:.2f}) | {false_by}"
        )


def replay_real(rules: SurgeRules) -> None:
    """Part 2: the Russian reports of events.tsv, story = event."""
    if not EVENTS.exists():
        print(f"\nreal: {EVENTS} is not available")
        return
    rows = list(csv.DictReader(EVENTS.open(encoding="utf-8"), delimiter="\t"))
    for lang in ("ru", "en"):
        mine = [r for r in rows if r["lang"] == lang]
        ids = {e: i for i, e in enumerate(sorted({r["event_id"] for r in mine}))}
        events = [(ids[r["event_id"]], _at(r)) for r in mine]
        start, end = min(t for _, t in events), max(t for _, t in events) + timedelta(days=1)
        zone = ZoneInfo("Europe/Moscow" if lang == "ru" else "America/New_York")
        by_item = StoryTimes([(i, t) for i, (_, t) in enumerate(events)])
        by_story = StoryTimes(events)
        print(f"\nreal ({lang}): {len(mine)} reports of {len(ids)} events, {start:%Y-%m-%d} to {end:%Y-%m-%d}")
        for label, stories in (("stories (events)", by_story), ("items (each report)", by_item)):
            surges = replay_surges(stories, start, end, STEP, zone, rules)
            print(f"  counting {label}: {len(surges)} surges")
            for s in surges:
                inside = [r for r in mine if s.started_at - timedelta(hours=rules.window_h) <= _at(r) <= s.started_at]
                names = sorted({r["event_id"] for r in inside})
                print(
                    f"    {s.started_at:%Y-%m-%d %H:%M} {s.recent} in {rules.window_h} h (usually {s.baseline:g}): {', '.join(names)}"
                )
        days = (end - start).days
        if days < rules.baseline_days + 1:
            print(f"  ({days} days: less than the {rules.baseline_days} days of history the decider needs)")


def _at(row: dict[str, str]) -> datetime:
    """A report's time: "2025-07-07 09:30 UTC", or with no zone (read as UTC) or a note after it."""
    return datetime.strptime(row["published"][:16], "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


def main() -> None:
    """Replay the generated histories over the grid, then the real one with the defaults."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--real-only", action="store_true", help="skip the generated grid")
    args = parser.parse_args()
    if not args.real_only:
        replay_generated(args.days, args.seed)
    replay_real(replace(SurgeRules()))


if __name__ == "__main__":
    main()
