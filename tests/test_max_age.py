"""max_age holds back a new feed's backlog, never news a watched feed carries late."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlite_utils

from bot.models import FeedConfig, Topic
from bot.pipeline import PollContext, poll_feed
from bot.sources.fetcher import Fetcher
from bot.sources.parsing import ParserPool
from bot.sources.rss import parse_feed
from storage.db import AsyncDB
from storage.feeds import sync_feeds
from storage.subscribers import ensure_console_subscriber
from tests.feedserver import FeedServer, rss

TOPICS = (Topic("peskov", "Peskov", "peskov"),)
NOW = datetime.now(UTC)


@pytest.fixture
async def ctx(fresh_db: sqlite_utils.Database) -> AsyncIterator[PollContext]:
    ensure_console_subscriber(fresh_db, ["peskov"], True, NOW)
    async with Fetcher(allow_private=True, timeout_s=2.0) as fetcher:
        parser = ParserPool(workers=1, topics=TOPICS)
        yield PollContext(AsyncDB(fresh_db), fetcher, parser, max_age_s=2 * 86400)
        parser.close()


def rfc822(when: datetime) -> str:
    return when.strftime("%a, %d %b %Y %H:%M:%S +0000")


def day_only(day: date) -> str:
    return day.strftime("%a, %d %b %Y")


def queued_titles(db: sqlite_utils.Database) -> set[str]:
    """Titles of the items whose story was queued for the console chat."""
    rows = db.execute("SELECT i.title FROM deliveries d JOIN items i ON i.story_id = d.story_id")
    return {r[0] for r in rows}


ITEMS = {
    "old": "Peskov praises the harvest of Kursk farmers",
    "fresh": "Peskov comments on the Baltic shipping dispute",
    "day2": "Peskov denies reports about Arctic oil licences",
    "day3": "Peskov rejects the Danube bridge proposal",
    "late": "Peskov answers questions on the Tbilisi summit",
    "today": "Peskov opens the Murmansk port season",
}


def entry(name: str, published: str) -> dict[str, str]:
    return {"title": ITEMS[name], "link": f"https://news.example/{name}", "guid": name, "pubDate": published}


async def test_backlog_held_on_the_first_read_and_late_news_sent_after(
    ctx: PollContext, server: FeedServer, fresh_db: sqlite_utils.Database
) -> None:
    today = NOW.date()
    first = [
        entry("old", rfc822(NOW - timedelta(days=5))),  # backlog: stored, not sent
        entry("fresh", rfc822(NOW - timedelta(hours=1))),
        entry("day2", day_only(today - timedelta(days=2))),  # ends 24-48 h ago: inside max_age
        entry("day3", day_only(today - timedelta(days=3))),  # ended more than 48 h ago: backlog
        entry("today", day_only(today)),  # its day ends ahead: taken as published when first seen
    ]
    url = server.set("/f", body=rss(first))
    feed = FeedConfig(name="Late", kind="rss", source=url, url=url, interval_s=600)
    fid = (await ctx.db.run(sync_feeds, [feed]))[url]
    out = await poll_feed(ctx, feed, fid)
    assert out.new_items == 5 and len(out.hits) == 5  # all stored and matched
    assert queued_titles(fresh_db) == {ITEMS["fresh"], ITEMS["day2"], ITEMS["today"]}
    published, fetched = fresh_db.execute(
        "SELECT published_at, fetched_at FROM items WHERE title = ?", [ITEMS["today"]]
    ).fetchone()
    assert published == fetched  # never dated after it was seen

    # the next poll brings an item dated (day only) two days ago: the feed carried it late; it is news
    server.set("/f", body=rss([entry("late", day_only(today - timedelta(days=2))), *first]))
    out = await poll_feed(ctx, feed, fid)
    assert out.new_items == 1
    assert queued_titles(fresh_db) == {ITEMS["fresh"], ITEMS["day2"], ITEMS["today"], ITEMS["late"]}

    # an item dated long ago that first appears now is news too
    server.set(
        "/f",
        body=rss(
            [
                entry("old", rfc822(NOW - timedelta(days=5)))
                | {"guid": "old-again", "link": "https://news.example/o2", "title": "Peskov visits the Volga shipyard in winter"}
            ]
        ),
    )
    out = await poll_feed(ctx, feed, fid)
    assert out.new_items == 1
    assert "Peskov visits the Volga shipyard in winter" in queued_titles(fresh_db)


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("Thu, 26 Nov 2026", datetime(2026, 11, 26, 23, 59, 59, tzinfo=UTC)),
        ("Thu, 26 Nov 2026 00:00:00 +0300", datetime(2026, 11, 26, 20, 59, 59, tzinfo=UTC)),  # the end of 26 Nov in +03
        ("2026-11-26", datetime(2026, 11, 26, 23, 59, 59, tzinfo=UTC)),
        ("Thu, 26 Nov 2026 09:15:00 +0000", datetime(2026, 11, 26, 9, 15, tzinfo=UTC)),  # a time: kept
        ("Thu, 26 Nov 2026 00:00:30 +0000", datetime(2026, 11, 26, 0, 0, 30, tzinfo=UTC)),
    ],
)
def test_a_date_without_a_time_reads_as_the_end_of_that_day(written: str, read: datetime) -> None:
    tag = "dc:date" if "-" in written[:5] else "pubDate"
    body = (
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>t</title>'
        f"<item><title>a</title><link>https://x.example/a</link><{tag}>{written}</{tag}></item></channel></rss>"
    ).encode()
    assert parse_feed(body).items[0].published_at == read
