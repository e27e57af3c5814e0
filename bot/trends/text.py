"""What a trend chart and a surge alert say (pure): the Chart to draw and its caption.

Captions are Telegram HTML cut to MAX_CAPTION UTF-16 units (Telegram's limit for a photo caption);
feed titles are shortened and escaped before they are put in a tag, so a cut never breaks markup.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.delivery.render import cap_html, esc, shorten
from bot.trends.series import Chart, Series, bucket_end, bucket_of, bucket_starts, count_into
from bot.trends.surge import pick_top, story_time
from storage.trends import HourlyTotals, StoryRow, hour_start
from storage.watches import WATCH_MARK

MAX_CAPTION = 1024
TOP_SHOWN = 3
TITLE_CHARS = 110


def story_times(rows: Sequence[StoryRow]) -> list[tuple[int, datetime]]:
    """(story_id, when it happened) for counting: see bot.trends.surge.story_time."""
    return [(r.story_id, story_time(r.first_seen_at, r.published_at)) for r in rows]


def trend_chart(name: str, rows: Sequence[StoryRow], end: datetime, days: int, zone: ZoneInfo) -> Chart:
    """Stories per hour (7 days) or per day (longer) up to `end`, read in `zone`."""
    hourly = days <= 7
    starts = bucket_starts(end, days, zone, hourly=hourly)
    counts = count_into(starts, end, (t for _, t in story_times(rows)))
    unit = "hour" if hourly else "day"
    title = f"watch: {name.removeprefix(WATCH_MARK).strip()}" if name.startswith(WATCH_MARK) else name  # no emoji glyphs
    return Chart(f"{title} — stories per {unit}, {days} days", hourly, zone.key, [Series("stories", starts, counts)])


def story_line(title: str, url: str | None, n_feeds: int) -> str:
    """• the linked title (N outlets)"""
    shown = esc(shorten(title, TITLE_CHARS) or "(untitled)")
    if url and url.startswith(("http://", "https://")):
        shown = f'<a href="{html.escape(url, quote=True)}">{shown}</a>'
    return f"• {shown}" + (f" ({n_feeds} outlets)" if n_feeds > 1 else "")


def top_stories(rows: Sequence[StoryRow], start: datetime, end: datetime, limit: int = TOP_SHOWN) -> list[StoryRow]:
    """The stories of [start, end) carried by most outlets (then the newest)."""
    inside = {r.story_id: r for r in rows if start <= story_time(r.first_seen_at, r.published_at) < end}
    return [inside[i] for i, _, _ in pick_top([(r.story_id, r.n_feeds, r.title) for r in inside.values()], limit)]


def trend_caption(name: str, chart: Chart, rows: Sequence[StoryRow], end: datetime) -> str:
    """The caption: total, the peak bucket and its top stories (most outlets first)."""
    series = chart.series[0]
    days = len(series.starts) // 24 if chart.hourly else len(series.starts)
    head = f"<b>{esc(name)}</b>: {series.total} {_stories(series.total)} in {days} days ({esc(chart.zone)})"
    peak = series.peak
    if peak < 0:
        return head + "\nNo story in this period."
    start = series.starts[peak]
    when = start.strftime("%a %d %b %H:00") if chart.hourly else start.strftime("%a %d %b")
    count = series.counts[peak]
    lines = [head, f"Peak {when}: {count} {_stories(count)}. Top:"]
    lines += [story_line(r.title, r.url, r.n_feeds) for r in top_stories(rows, start, bucket_end(series.starts, peak, end))]
    return cap_html("\n".join(lines), MAX_CAPTION)[0]


def surge_caption(name: str, recent: int, baseline: float, window_h: int, top: Sequence[tuple[str, str | None, int]]) -> str:
    """🔺 Dmitry Peskov: 14 stories in the last 3 h, usually 2 — top: ... (top: title, url, outlets)."""
    head = f"🔺 <b>{esc(name)}</b>: {recent} {_stories(recent)} in the last {window_h} h, usually {baseline:g} — top:"
    return cap_html("\n".join([head, *(story_line(*t) for t in top)]), MAX_CAPTION)[0]


def surge_chart(name: str, rows: Sequence[StoryRow], now: datetime, window_h: int, zone: ZoneInfo) -> Chart:
    """The alert's picture: stories per hour over 7 days, the surge's window shaded."""
    chart = trend_chart(name, rows, now, 7, zone)
    return Chart(chart.title, chart.hourly, chart.zone, chart.series, highlight_from=now - timedelta(hours=window_h))


def _stories(n: int) -> str:
    return "story" if n == 1 else "stories"


def stats_chart(totals: HourlyTotals, end: datetime, days: int, zone: ZoneInfo) -> Chart:
    """/stats: items fetched, hits and failing feeds per local day (hourly UTC totals folded into days)."""
    starts = bucket_starts(end, days, zone, hourly=False)
    utc = [s.astimezone(UTC) for s in starts]
    items, hits, failing = [0] * days, [0] * days, [set[int]() for _ in range(days)]
    for counts, hours in ((items, totals.items), (hits, totals.hits)):
        for hour, n in hours.items():
            i = bucket_of(utc, end, hour_start(hour))
            if i is not None:
                counts[i] += n
    for hour, feeds in totals.failing.items():
        i = bucket_of(utc, end, hour_start(hour))
        if i is not None:
            failing[i] |= feeds
    series = [
        Series("items", starts, items),
        Series("hits", starts, hits),
        Series("failing feeds", starts, [len(f) for f in failing]),
    ]
    return Chart(f"Newswatch — items, hits and failing feeds per day, {days} days", False, zone.key, series)
