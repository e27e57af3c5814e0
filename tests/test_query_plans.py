"""Every statement of the poll path reads through an index: polls are traced, each statement is
EXPLAINed, and a full scan of a table that grows with the store fails the test."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import sqlite_utils

from bot.models import FeedConfig, Topic
from bot.pipeline import PollContext, poll_feed
from bot.sources.fetcher import Fetcher
from bot.sources.parsing import ParserPool
from storage.db import AsyncDB
from storage.feeds import list_feed_states, sync_feeds
from storage.reporting import claim_hits
from storage.stories import recent_across
from storage.subscribers import ensure_console_subscriber
from tests.feedserver import FeedServer, rss

GROWING = ("items", "stories", "hits", "deliveries", "subscriptions", "term_df", "watches")
SCAN = re.compile(r"\bSCAN (\w+)(?: AS \w+)?(.*)")


@pytest.fixture
async def traced(fresh_db: sqlite_utils.Database) -> AsyncIterator[tuple[PollContext, list[str]]]:
    statements: list[str] = []
    fresh_db.conn.set_trace_callback(statements.append)
    async with Fetcher(allow_private=True, timeout_s=2.0) as fetcher:
        parser = ParserPool(workers=1, topics=(Topic("peskov", "Peskov", "peskov"),))
        yield PollContext(AsyncDB(fresh_db), fetcher, parser, page_pause_s=0.0), statements
        parser.close()
    fresh_db.conn.set_trace_callback(None)


def full_scans(db: sqlite_utils.Database, statements: list[str]) -> dict[str, list[str]]:
    """Statement -> the plan lines that scan a growing table without an index."""
    found: dict[str, list[str]] = {}
    for sql in dict.fromkeys(statements):
        if not re.match(r"\s*(SELECT|UPDATE|DELETE|INSERT|WITH)\b", sql, re.IGNORECASE):
            continue
        plan = [str(row[-1]) for row in db.conn.execute(f"EXPLAIN QUERY PLAN {sql}")]
        bad = [
            line
            for line in plan
            if (m := SCAN.search(line))
            and m.group(1) in GROWING
            and "INDEX" not in m.group(2)
            and "PRIMARY KEY" not in m.group(2)
        ]
        if bad:
            found[sql] = bad
    return found


def plan_of(db: sqlite_utils.Database, statements: list[str], marker: str) -> str:
    sql = next(s for s in statements if marker in s)
    return " ".join(str(row[-1]) for row in db.conn.execute(f"EXPLAIN QUERY PLAN {sql}"))


async def test_the_poll_path_reads_every_growing_table_through_an_index(
    traced: tuple[PollContext, list[str]], fresh_db: sqlite_utils.Database, server: FeedServer
) -> None:
    ctx, statements = traced
    await ctx.db.run(ensure_console_subscriber, ["peskov"], True, datetime(2025, 1, 1, tzinfo=UTC))
    items = [{"title": f"Peskov said thing {n}", "link": f"https://n.example/{n}", "guid": f"g{n}"} for n in range(3)]
    url = server.set("/f", body=rss(items), etag='"v1"')
    broken = server.set("/broken", status=500)
    feeds = [FeedConfig("N", "rss", url, url, 600), FeedConfig("B", "rss", broken, broken, 600)]
    ids = await ctx.db.run(sync_feeds, feeds)
    states = await ctx.db.run(list_feed_states)
    first = await poll_feed(ctx, feeds[0], ids[url], states[ids[url]])  # cold: stories, clustering, hits, outbox
    await poll_feed(ctx, feeds[1], ids[broken])  # a failure
    assert (await poll_feed(ctx, feeds[0], ids[url])).status == "not_modified"
    items.append({"title": "Peskov said thing 3", "link": "https://n.example/3", "guid": "g3"})
    items.append({"title": "Peskov said thing 0, updated", "link": "https://n.example/0", "guid": "g4"})  # joins its story
    server.set("/f", body=rss(items), etag='"v2"')
    changed = await poll_feed(ctx, feeds[0], ids[url])  # known items skipped, two new
    await ctx.db.run(claim_hits, datetime(2025, 1, 2, tzinfo=UTC))
    assert len(first.hits) == 3 and changed.new_items == 2 and len(changed.hits) == 1

    assert full_scans(fresh_db, statements) == {}
    candidates = plan_of(fresh_db, statements, "s.has_hits = 1")
    assert "stories_hit_seen" in candidates and "items_story_feed (story_id=? AND feed_id=?)" in candidates
    recent_across(fresh_db, ["peskov"], datetime(2025, 1, 1, tzinfo=UTC), "en")  # the cross-language candidates
    assert "stories_hit_seen" in plan_of(fresh_db, statements, "coalesce(s.anchors, '') != ''")
    # ... whose language the index holds: a story in the item's language is passed over unread
    assert [r[2] for r in fresh_db.execute("PRAGMA index_info(stories_hit_seen)")] == ["last_seen_at", "lang"]
    assert "items_story_feed (story_id=? AND feed_id=?)" in plan_of(fresh_db, statements, "FROM items WHERE story_id =")
    assert "items_feed_recent" in plan_of(fresh_db, statements, "ORDER BY id DESC LIMIT")
    assert "subscriptions_topic" in plan_of(fresh_db, statements, "FROM subscriptions sub")


def test_the_check_finds_a_full_scan(fresh_db: sqlite_utils.Database) -> None:
    assert full_scans(fresh_db, ["SELECT id FROM items WHERE title = 'x'"]) == {
        "SELECT id FROM items WHERE title = 'x'": ["SCAN items"]
    }
