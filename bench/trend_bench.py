"""Chart rendering time and memory: `python bench/trend_bench.py [--runs 5] [--save docs]`.

Generates 90 days of stories about one topic (a daily rhythm, a slow rise, a take-off on the last day),
then draws the /trend charts (7 days per hour, 30 and 90 days per day) with the real code: the first
chart (matplotlib imported, fonts registered) and the median of `--runs` more of each kind, with the
process's CPU time, peak RSS and the Python heap peak of one drawing. `--save DIR` writes DIR/trend.png
(the 7-day chart, as the README shows it) and prints its caption.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.trends.text import trend_caption, trend_chart
from storage.trends import StoryRow

NOW = datetime(2024, 10, 25, 16, 40, tzinfo=UTC)
ZONE = ZoneInfo("Europe/Brussels")
TITLES = [
    "Rutte says North Korean troops in Kursk mark a dangerous escalation",
    "Рютте: отправка войск КНДР в Россию — опасная эскалация",
    "뤼터 나토 사무총장 북한군 러시아 파병 확인",
    "Rutte confirme l'envoi de troupes nord-coréennes en Russie",
    "Рютте: війська КНДР уже в Курській області",
]


def generated_stories(days: int = 90, seed: int = 7) -> list[StoryRow]:
    """About 2 stories an hour by day, fewer at night, rising slowly, and a take-off in the last 6 hours."""
    rng = random.Random(seed)
    rows: list[StoryRow] = []
    start = NOW - timedelta(days=days)
    for h in range(days * 24):
        at = start + timedelta(hours=h)
        local_hour = at.astimezone(ZONE).hour
        rate = (0.3 if local_hour < 7 else 1.6) * (1 + h / (days * 24))
        if at > NOW - timedelta(hours=6):
            rate *= 6
        for _ in range(int(rate) + (rng.random() < rate - int(rate))):
            t = at + timedelta(minutes=rng.randrange(60))
            if t <= NOW:
                n = len(rows) + 1
                rows.append(
                    StoryRow(n, t, t, rng.choice([1, 1, 1, 2, 3, 5]), f"{rng.choice(TITLES)} ({n})", f"https://news.example/{n}")
                )
    return rows


def main() -> None:
    """Print the timings and memory; optionally save the README's chart."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--save", type=Path, help="folder to write trend.png into")
    args = parser.parse_args()
    rows = generated_stories()
    charts = {days: trend_chart("Mark Rutte", rows, NOW, days, ZONE) for days in (7, 30, 90)}
    print(f"{len(rows)} generated stories over 90 days; charts {', '.join(f'{d} days' for d in charts)}")

    cpu0, wall0 = time.process_time(), time.perf_counter()
    from bot.trends.chart import render_png  # the import a first chart pays for

    first = render_png(charts[7])
    print(f"first chart (import matplotlib, register fonts, draw): {time.perf_counter() - wall0:.2f} s wall, "
          f"{time.process_time() - cpu0:.2f} s CPU, {len(first):,} bytes")  # fmt: skip
    for days, chart in charts.items():
        times, cpus = [], []
        for _ in range(args.runs):
            c, w = time.process_time(), time.perf_counter()
            png = render_png(chart)
            times.append(time.perf_counter() - w)
            cpus.append(time.process_time() - c)
        print(f"{days:>2} days ({len(chart.series[0].counts)} bars): median {statistics.median(times) * 1000:.0f} ms wall, "
              f"{statistics.median(cpus) * 1000:.0f} ms CPU over {args.runs} runs, {len(png):,} bytes")  # fmt: skip
    tracemalloc.start()
    render_png(charts[90])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"Python heap peak while drawing one chart: {peak / 2**20:.1f} MiB")
    print(f"process peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
        out = args.save / "trend.png"
        out.write_bytes(render_png(charts[7]))
        print(f"\nwrote {out}; its caption:\n{trend_caption('Mark Rutte', charts[7], rows, NOW)}")


if __name__ == "__main__":
    main()
