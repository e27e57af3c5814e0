"""Trend charts: buckets in the reader's zone, captions, the PNG itself and `python -m bot trend`."""

from __future__ import annotations

import io
import itertools
import os
import subprocess
import sys
import warnings
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlite_utils
from PIL import Image

from bot.config import Settings, parse_config
from bot.errors import CommandError
from bot.models import Topic
from bot.pipeline import poll_feed
from bot.runtime import open_runtime
from bot.subscribers import Catalog
from bot.trends.chart import HEIGHT, WIDTH, render_png
from bot.trends.series import Chart, Series, bucket_starts, count_into, period_days
from bot.trends.service import TrendService
from bot.trends.text import stats_chart, surge_caption, trend_caption, trend_chart
from storage.trends import HourlyTotals, StoryRow, hourly_totals, prune_feed_failures
from tests.conftest import ROOT
from tests.feedserver import FeedServer, rss
from tests.trendfeeds import history, spike

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 10, 27, 12, 30, tzinfo=UTC)


def row(story_id: int, at: datetime, n_feeds: int = 1, title: str = "", url: str | None = None) -> StoryRow:
    return StoryRow(story_id, at, None, n_feeds, title or f"story {story_id}", url)


def test_days_run_from_local_midnight_across_dst() -> None:
    starts = bucket_starts(NOW, 5, PARIS, hourly=False)
    assert [s.strftime("%d %H:%M") for s in starts] == ["23 00:00", "24 00:00", "25 00:00", "26 00:00", "27 00:00"]
    assert starts[3].astimezone(UTC) - starts[2].astimezone(UTC) == timedelta(hours=25)  # 25 October 2026: summer time ends
    counts = count_into(starts, NOW, [datetime(2026, 10, 25, 23, 30, tzinfo=UTC), datetime(2026, 10, 25, 22, 30, tzinfo=UTC)])
    assert counts == [0, 0, 1, 1, 0]  # 23:30 and 00:30 local: two different days


def test_hours_are_real_hours_labelled_locally() -> None:
    starts = bucket_starts(NOW, 7, PARIS, hourly=True)
    utc = [s.astimezone(UTC) for s in starts]
    assert len(starts) == 168 and starts[-1] == datetime(2026, 10, 27, 13, 0, tzinfo=PARIS)
    assert all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(utc))
    assert sum(1 for s in starts if s.hour == 2) == 8  # the hour from 02:00 happens twice on 25 October


@pytest.mark.parametrize(("word", "days"), [(None, 30), ("7d", 7), ("30D", 30), ("90", 90), ("14d", None), ("week", None)])
def test_period_words(word: str | None, days: int | None) -> None:
    assert period_days(word) == days


def test_caption_names_the_peak_and_its_most_carried_stories() -> None:
    day = datetime(2026, 10, 21, 9, tzinfo=UTC)
    rows = [row(i, day + timedelta(minutes=i), n_feeds=i % 4 + 1, url=f"https://n.example/{i}") for i in range(1, 8)]
    rows += [row(20, day - timedelta(days=3)), row(21, NOW - timedelta(hours=1), title="<b>bold</b> & co")]
    chart = trend_chart("Mark Rutte", rows, NOW, 30, PARIS)
    caption = trend_caption("Mark Rutte", chart, rows, NOW)
    lines = caption.split("\n")
    assert lines[0] == "<b>Mark Rutte</b>: 9 stories in 30 days (Europe/Paris)"
    assert lines[1] == "Peak Wed 21 Oct: 7 stories. Top:"
    assert lines[2:] == [
        '• <a href="https://n.example/7">story 7</a> (4 outlets)',
        '• <a href="https://n.example/3">story 3</a> (4 outlets)',
        '• <a href="https://n.example/6">story 6</a> (3 outlets)',
    ]


def test_captions_fit_telegram_and_escape_titles() -> None:
    rows = [row(i, NOW - timedelta(minutes=i), n_feeds=9, title="<i>" + "Рютте 뤼터 " * 80) for i in range(3)]
    chart = trend_chart("Mark Rutte", rows, NOW, 7, PARIS)
    for caption in (
        trend_caption("Mark Rutte", chart, rows, NOW),
        surge_caption("Mark Rutte", 14, 2.0, 3, [(r.title, r.url, r.n_feeds) for r in rows]),
    ):
        assert len(caption.encode("utf-16-le")) // 2 <= 1024 and "<i>" not in caption and "&lt;i&gt;" in caption
    top = [("Peskov: no comment", "https://n.example/1", 5), ("Песков <ответил>", None, 1)]
    assert surge_caption("Dmitry Peskov", 14, 2.0, 3, top) == (
        "🔺 <b>Dmitry Peskov</b>: 14 stories in the last 3 h, usually 2 — top:\n"
        '• <a href="https://n.example/1">Peskov: no comment</a> (5 outlets)\n• Песков &lt;ответил&gt;'
    )


def test_empty_period_says_so() -> None:
    chart = trend_chart("Mark Rutte", [], NOW, 7, PARIS)
    assert chart.series[0].peak == -1
    assert trend_caption("Mark Rutte", chart, [], NOW).endswith("No story in this period.")


def test_png_has_the_phone_size_and_every_script_has_glyphs() -> None:
    starts = bucket_starts(NOW, 30, PARIS, hourly=False)
    chart = Chart("Рютте · Пєсков · 뤼터 · Rutte", False, "Europe/Paris", [Series("stories", starts, list(range(30)))])
    with warnings.catch_warnings(record=True) as caught:  # matplotlib warns "Glyph ... missing from font(s)"
        warnings.simplefilter("always")
        png = render_png(chart)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (WIDTH, HEIGHT)
    assert not [w for w in caught if "missing from" in str(w.message)]
    darkest, lightest = image.convert("L").getextrema()  # type: ignore[misc]
    assert darkest < 64 and lightest == 255  # dark text and bars on white


def test_service_refuses_bad_requests_in_one_line() -> None:
    catalog = Catalog((Topic("rutte", "Mark Rutte", "rutte"), Topic("peskov", "Dmitry Peskov", "peskov")))
    svc = TrendService(None, catalog)  # type: ignore[arg-type]  # parse() reads no database
    assert svc.parse(["rutte", "7d"]) == ("rutte", "Mark Rutte", 7)
    assert svc.parse(["Mark", "Rutte", "90d"]) == ("rutte", "Mark Rutte", 90)
    for words, message in [
        ([], "Usage: /trend topic"),
        (["nobody"], "No topic or watch nobody"),
        (["rutte", "14d"], "14d is not a period"),
        (["rutte", "peskov"], "One topic at a time"),
        (["<b>" * 40], "No topic or watch &lt;b&gt;"),
    ]:
        with pytest.raises(CommandError, match=message) as e:
            svc.parse(words)
        assert "\n" not in str(e.value) and len(str(e.value)) < 400


async def test_cli_draws_a_generated_history(settings: Settings, server: FeedServer, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    server.set("/wire.xml", body=rss(history(now, "Rutte", days=8, per_day=4) + spike(now, "Rutte", 12, start=1000)))
    text = f"settings:\n  max_age: off\n  timezone: Europe/Kyiv\ntopics:\n  - id: rutte\n    name: Mark Rutte\n    query: rutte\nfeeds:\n  - name: Wire\n    url: {server.url('/wire.xml')}\n"
    settings.config_path.write_text(text, encoding="utf-8")
    config = parse_config(text, settings.config_path)
    async with open_runtime(replace(settings), config) as rt:
        feed = config.feeds[0]
        await poll_feed(rt.ctx, feed, rt.feed_ids[feed.source])
    out = tmp_path / "chart.png"
    env = {**os.environ, "NEWSWATCH_ALLOW_PRIVATE_URLS": "1"}
    args = ["--config", str(settings.config_path), "--db", str(settings.db_path)]
    done = subprocess.run(
        [sys.executable, "-m", "bot", "trend", "rutte", "--days", "7", "--out", str(out), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "Mark Rutte: 39 stories in 7 days (Europe/Kyiv)"  # 3 + 6 x 4 of the history, 12 of the spike
    assert lines[1].startswith("Peak ") and "Rutte" in lines[2] and lines[-1] == f"chart written to {out}"
    assert Image.open(out).size == (WIDTH, HEIGHT)
    bad = subprocess.run(
        [sys.executable, "-m", "bot", "trend", "nobody", "--out", str(tmp_path / "x.png"), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert (
        bad.returncode == 1 and bad.stderr.startswith("error: trend: no topic 'nobody' in ") and len(bad.stderr.splitlines()) == 1
    )
    assert not (tmp_path / "x.png").exists()


def test_commands_that_draw_nothing_do_not_import_matplotlib(tmp_path: Path) -> None:
    cfg = tmp_path / "feeds.yaml"
    cfg.write_text("topics:\n  - id: rutte\n    query: rutte\nfeeds: []\n", encoding="utf-8")
    code = (
        "import sys; from bot.__main__ import main; import bot.app, bot.telegram.application;"
        f" rc = main(['check', '--config', {str(cfg)!r}]); print(rc, 'matplotlib' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.stdout.splitlines()[-1] == "0 False", done.stderr


def test_stats_chart_folds_utc_hours_into_local_days() -> None:
    totals = HourlyTotals(
        items={"2026-10-26T22": 5, "2026-10-26T23": 7, "2026-10-27T09": 1, "2026-09-01T00": 99},
        hits={"2026-10-26T23": 2},
        failing={"2026-10-26T10": {3}, "2026-10-26T11": {3, 4}, "2026-10-26T23": {3}},
    )
    chart = stats_chart(totals, NOW, 3, PARIS)
    assert [s.label for s in chart.series] == ["items", "hits", "failing feeds"]
    items, hits, failing = (s.counts for s in chart.series)
    assert items == [0, 5, 8]  # 22:00 UTC is 23:00 in Paris (26th); 23:00 UTC is midnight (27th); 99 is too old
    assert hits == [0, 0, 2]
    assert failing == [0, 2, 1]  # distinct feeds a day: feed 3 twice on the 26th counts once


def test_feed_failures_are_counted_per_hour_and_pruned(fresh_db: sqlite_utils.Database) -> None:
    from bot.models import FeedConfig
    from storage.feeds import record_error, sync_feeds

    ids = sync_feeds(fresh_db, [FeedConfig("A", "rss", "https://a.example/", "https://a.example/", 600)])
    feed = ids["https://a.example/"]
    for at in (NOW - timedelta(days=100), NOW - timedelta(minutes=5), NOW - timedelta(minutes=1)):
        record_error(fresh_db, feed, "timeout", None, at, at + timedelta(minutes=10))
    assert hourly_totals(fresh_db, NOW - timedelta(days=200)).failing == {"2026-07-19T12": {feed}, "2026-10-27T12": {feed}}
    assert prune_feed_failures(fresh_db, NOW - timedelta(days=92)) == 1
    assert list(hourly_totals(fresh_db, NOW - timedelta(days=200)).failing) == ["2026-10-27T12"]


def test_a_watch_chart_names_it_without_the_emoji_fonts_lack() -> None:
    assert trend_chart("🔎 nato chief", [], NOW, 7, PARIS).title == "watch: nato chief — stories per hour, 7 days"
