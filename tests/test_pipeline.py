from __future__ import annotations

import asyncio
import threading
import urllib.request
from collections.abc import AsyncIterator, Mapping, Set
from dataclasses import replace
from datetime import UTC, datetime

import pytest
import sqlite_utils

from bot.clustering import StoryRules, encode_terms, item_language, item_terms
from bot.models import FeedConfig, Item, Match, ParsedFeed, Topic
from bot.pipeline import PollContext, poll_feed
from bot.sources.fetcher import Fetcher
from bot.sources.parsing import ParserPool
from storage.db import AsyncDB
from storage.feeds import get_feed_state, sync_feeds
from storage.items import NewItem, PollUpdate, count_rows, save_poll
from tests.feedserver import FeedServer, rss

TOPICS = [Topic("peskov", "Peskov", "peskov OR песков*"), Topic("rutte", "Rutte", "rutte")]


class CountingParser(ParserPool):
    """The real parser, counting how many bodies it parsed and keeping the last reading."""

    def __init__(self) -> None:
        super().__init__(workers=1, topics=tuple(TOPICS))
        self.calls = 0
        self.last: ParsedFeed | None = None

    async def parse(
        self,
        kind: str,
        body: bytes,
        headers: dict[str, str],
        url: str,
        feed_name: str = "",
        known: Mapping[str, str] | None = None,
        seen: Set[str] = frozenset(),
    ) -> ParsedFeed:
        self.calls += 1
        self.last = await super().parse(kind, body, headers, url, feed_name, known, seen)
        return self.last


@pytest.fixture
async def ctx(fresh_db: sqlite_utils.Database) -> AsyncIterator[PollContext]:
    adb = AsyncDB(fresh_db)
    async with Fetcher(allow_private=True, timeout_s=1.0) as fetcher:
        parser = CountingParser()
        yield PollContext(adb, fetcher, parser, page_pause_s=0.0)
        parser.close()


async def add_feed(ctx: PollContext, url: str, name: str = "Test", kind: str = "rss") -> tuple[FeedConfig, int]:
    feed = FeedConfig(name=name, kind=kind, source=url, url=url, interval_s=600)
    ids = await ctx.db.run(sync_feeds, [feed])
    return feed, ids[url]


def item(n: int, title: str = "Peskov speaks", **extra: str) -> dict[str, str]:
    return {"title": f"{title} {n}", "link": f"https://news.example/{n}", "guid": f"g{n}", **extra}


async def test_second_poll_of_unchanged_feed_parses_nothing(ctx: PollContext, server: FeedServer) -> None:
    url = server.set("/f", body=rss([item(1), item(2)]), etag='"a"')
    feed, fid = await add_feed(ctx, url)
    first = await poll_feed(ctx, feed, fid)
    second = await poll_feed(ctx, feed, fid)
    assert first.status == "new" and first.new_items == 2 and len(first.hits) == 2
    assert second.status == "not_modified" and second.hits == []
    assert ctx.parser.calls == 1  # type: ignore[attr-defined]


async def test_unchanged_body_without_validators_is_not_parsed_again(ctx: PollContext, server: FeedServer) -> None:
    url = server.set("/f", body=rss([item(1)]))
    feed, fid = await add_feed(ctx, url)
    await poll_feed(ctx, feed, fid)
    second = await poll_feed(ctx, feed, fid)
    assert second.status == "unchanged"
    assert ctx.parser.calls == 1  # type: ignore[attr-defined]


async def test_reordered_and_republished_items_give_no_second_hit(ctx: PollContext, server: FeedServer) -> None:
    url = server.set("/f", body=rss([item(1), item(2)]))
    feed, fid = await add_feed(ctx, url)
    await poll_feed(ctx, feed, fid)
    # same items in another order, one re-published under a new guid with a tracking parameter
    server.set(
        "/f",
        body=rss([item(2), item(1), {"title": "Peskov speaks 1", "link": "https://news.example/1?utm_source=x", "guid": "new"}]),
    )
    again = await poll_feed(ctx, feed, fid)
    assert again.new_items == 1 and again.hits == []
    assert count_rows(ctx.db.db, "hits") == 2


async def test_same_article_in_two_feeds_is_one_story_and_one_hit(ctx: PollContext, server: FeedServer) -> None:
    a = server.set("/a", body=rss([{"title": "Rutte in Kyiv", "link": "https://www.news.example/x?utm_medium=rss"}]))
    b = server.set("/b", body=rss([{"title": "Rutte visits Kyiv", "link": "https://news.example/x#top"}]))
    fa, ida = await add_feed(ctx, a, "A")
    fb, idb = await add_feed(ctx, b, "B")
    ra = await poll_feed(ctx, fa, ida)
    rb = await poll_feed(ctx, fb, idb)
    assert len(ra.hits) == 1 and rb.hits == [] and rb.new_items == 1
    story = next(ctx.db.db.query("SELECT n_items, n_feeds FROM stories"))
    assert story == {"n_items": 2, "n_feeds": 2}


async def test_feed_without_guids_or_links_dedups_by_content(ctx: PollContext, server: FeedServer) -> None:
    body = rss([{"title": "Peskov one", "description": "a"}, {"title": "Peskov two", "description": "b"}])
    url = server.set("/f", body=body)
    feed, fid = await add_feed(ctx, url)
    first = await poll_feed(ctx, feed, fid)
    server.set("/f", body=body + b"\n")  # same items, different bytes
    second = await poll_feed(ctx, feed, fid)
    assert first.new_items == 2 and second.new_items == 0


async def test_duplicate_guids_in_one_feed_store_one_item(ctx: PollContext, server: FeedServer) -> None:
    url = server.set("/f", body=rss([item(1), {**item(2), "guid": "g1"}]))
    feed, fid = await add_feed(ctx, url)
    out = await poll_feed(ctx, feed, fid)
    assert out.new_items == 1


async def test_relative_links_are_resolved_against_the_feed_url(ctx: PollContext, server: FeedServer) -> None:
    url = server.set("/news/feed.xml", body=rss([{"title": "Rutte", "link": "/articles/7", "guid": "7"}]))
    feed, fid = await add_feed(ctx, url)
    out = await poll_feed(ctx, feed, fid)
    assert out.hits[0].url == server.url("/articles/7")


async def test_server_errors_back_off_and_are_recorded(ctx: PollContext, server: FeedServer) -> None:
    url = server.set("/down", status=500)
    feed, fid = await add_feed(ctx, url)
    delays = []
    for _ in range(3):
        before = datetime.now(UTC)
        out = await poll_feed(ctx, feed, fid)
        delays.append((out.next_poll_at - before).total_seconds())
    state = await ctx.db.run(get_feed_state, fid)
    row = next(ctx.db.db.query("SELECT last_status, last_error, failing_since FROM feeds WHERE id = ?", [fid]))
    assert state.error_count == 3 and row["last_status"] == 500 and "HTTP 500" in row["last_error"] and row["failing_since"]
    assert delays[0] > 600 * 1.5 and delays[1] > delays[0] and delays[2] > delays[1]


async def test_recovery_resets_the_error_count(ctx: PollContext, server: FeedServer) -> None:
    url = server.set("/flaky", status=503)
    feed, fid = await add_feed(ctx, url)
    await poll_feed(ctx, feed, fid)
    server.set("/flaky", body=rss([item(1)]))
    out = await poll_feed(ctx, feed, fid)
    state = await ctx.db.run(get_feed_state, fid)
    assert out.status == "new" and state.error_count == 0


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body>Not a feed</body></html>",
        b"",
    ],
)
async def test_broken_feed_is_an_error_and_others_still_poll(ctx: PollContext, server: FeedServer, body: bytes) -> None:
    bad = server.set("/bad", body=body)
    good = server.set("/good", body=rss([item(1)]))
    fb, idb = await add_feed(ctx, bad, "Bad")
    fg, idg = await add_feed(ctx, good, "Good")
    rb = await poll_feed(ctx, fb, idb)
    rg = await poll_feed(ctx, fg, idg)
    assert rb.status == "error" and rb.error and rb.error.startswith("parser:")
    assert rg.status == "new" and len(rg.hits) == 1


async def test_truncated_feed_gives_what_can_be_read_and_a_note(ctx: PollContext, server: FeedServer) -> None:
    url = server.set(
        "/cut", body=b"<rss version='2.0'><channel><item><title>Peskov speaks</title><guid>1</guid></item><item><title>Pesk"
    )
    feed, fid = await add_feed(ctx, url)
    out = await poll_feed(ctx, feed, fid)
    note = ctx.db.db.execute("SELECT note FROM feeds WHERE id = ?", [fid]).fetchone()[0]
    assert out.status == "new" and [h.title for h in out.hits][:1] == ["Peskov speaks"]
    assert note.startswith("parser:")


async def test_entity_expansion_bomb_is_harmless(ctx: PollContext, server: FeedServer) -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY lol "lol">'
        + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
        + ']><rss version="2.0"><channel><title>t</title><item><title>Peskov &lol9;</title><guid>1</guid></item></channel></rss>'
    ).encode()
    url = server.set("/bomb", body=bomb)
    feed, fid = await add_feed(ctx, url)
    out = await poll_feed(ctx, feed, fid)
    stored = ctx.db.db.execute("SELECT max(length(title)) FROM items").fetchone()[0]
    assert out.status in ("new", "error")
    assert stored is None or stored < 100_000


async def test_hits_report_matched_terms(ctx: PollContext, server: FeedServer) -> None:
    url = server.set("/f", body=rss([{"title": "Заявление Пескова", "guid": "1", "link": "https://x.example/1"}]))
    feed, fid = await add_feed(ctx, url)
    out = await poll_feed(ctx, feed, fid)
    assert [(h.topic, h.matched) for h in out.hits] == [("peskov", ("песков*",))]


async def test_a_changed_feed_reads_again_only_the_item_elements_it_did_not_have(
    ctx: PollContext, fresh_db: sqlite_utils.Database, server: FeedServer
) -> None:
    rss_type = {"Content-Type": "application/rss+xml"}  # read by the fast path (bot.sources.fastrss)
    old = [item(n, "Kremlin budget", description="first text") for n in range(3)]
    url = server.set("/f", body=rss(old), headers=rss_type)
    feed, fid = await add_feed(ctx, url)
    assert (await poll_feed(ctx, feed, fid)).new_items == 3
    # The item stored from the first element is edited here: a second reading of that element would
    # restore the feed's title, so a title left as edited shows the element was not read again.
    fresh_db.execute("UPDATE items SET title = 'edited here' WHERE title = 'Kremlin budget 0'")
    edited = {**old[2], "description": "second text"}
    server.set("/f", body=rss([item(9), old[0], old[1], edited]), headers=rss_type)
    out = await poll_feed(ctx, feed, fid)
    parsed = ctx.parser.last  # type: ignore[attr-defined]
    assert parsed.skipped == 2 and [it.title for it in parsed.items] == ["Peskov speaks 9", "Kremlin budget 2"]
    assert out.new_items == 1 and [h.title for h in out.hits] == ["Peskov speaks 9"]
    rows = fresh_db.execute("SELECT title, text FROM items ORDER BY url").fetchall()
    assert rows == [
        ("edited here", "first text"),
        ("Kremlin budget 1", "first text"),
        ("Kremlin budget 2", "second text"),  # an edited element is read again
        ("Peskov speaks 9", ""),
    ]
    assert len((await ctx.db.run(get_feed_state, fid)).item_digests.split()) == 4  # type: ignore[union-attr]


async def test_a_word_in_braces_is_matched_as_the_feed_writes_it(fresh_db: sqlite_utils.Database, server: FeedServer) -> None:
    """{Песков} finds the name, not "of the sands": the parser hands the matcher the text as written."""
    body = rss(
        [
            {"title": "Туристы выбрались из зыбучих песков", "guid": "1", "link": "https://x.example/1"},
            {"title": "Вопрос переадресовали", "description": "– отметил Песков.", "guid": "2", "link": "https://x.example/2"},
        ]
    )
    url = server.set("/f", body=body)
    parser = ParserPool(workers=1, topics=(Topic("peskov", "Peskov", "{Песков}"),))
    try:
        async with Fetcher(allow_private=True, timeout_s=1.0) as fetcher:
            ctx = PollContext(AsyncDB(fresh_db), fetcher, parser, page_pause_s=0.0)
            feed, fid = await add_feed(ctx, url)
            out = await poll_feed(ctx, feed, fid)
    finally:
        parser.close()
    assert out.new_items == 2 and [(h.topic, h.matched) for h in out.hits] == [("peskov", ("{Песков}",))]
    assert [h.title for h in out.hits] == ["Вопрос переадресовали"]


def test_syncing_a_feed_list_the_table_follows_already_writes_nothing(fresh_db: sqlite_utils.Database) -> None:
    feeds = [
        FeedConfig("A", "rss", "https://a.example/f", "https://a.example/f", 600),
        FeedConfig("B", "rss", "https://b.example/f", "https://b.example/f", 600),
    ]
    ids = sync_feeds(fresh_db, feeds)
    statements: list[str] = []
    fresh_db.conn.set_trace_callback(statements.append)
    assert sync_feeds(fresh_db, feeds) == ids
    assert [s for s in statements if not s.startswith("SELECT")] == []  # one read, no transaction
    assert sync_feeds(fresh_db, [replace(feeds[0], name="A2", interval_s=900), feeds[1]]) == ids  # a change is written
    assert sync_feeds(fresh_db, feeds[1:]) == {feeds[1].source: ids[feeds[1].source]}  # and a feed leaving the list
    fresh_db.conn.set_trace_callback(None)
    rows = fresh_db.execute("SELECT name, interval_s, in_config FROM feeds ORDER BY id").fetchall()
    assert rows == [("A2", 900, 0), ("B", 600, 1)]


RULES = StoryRules([Topic("peskov", "Peskov", "peskov OR песков")])


def entry(item: Item, matches: list[Match]) -> NewItem:
    """An item as the parse workers hand it over: with its topics, clustering terms and language."""
    return NewItem(item, matches, encode_terms(item_terms(item.title, item.text)), item_language(item.title, item.text))


def test_rewrites_of_one_report_in_two_feeds_are_one_story_with_one_hit(fresh_db: sqlite_utils.Database) -> None:
    ids = sync_feeds(
        fresh_db,
        (
            FeedConfig("TASS", "rss", "https://a.example/f", "https://a.example/f", 600),
            FeedConfig("RIA", "rss", "https://b.example/f", "https://b.example/f", 600),
        ),
    )
    now = datetime(2024, 11, 6, 12, tzinfo=UTC)
    update = PollUpdate(200, None, None, None, now)
    peskov = [Match("peskov", ("песков",))]
    first = Item(
        "1",
        "https://a.example/1",
        "Песков: у Путина нет планов поздравить Трампа",
        "Пресс-секретарь президента Дмитрий Песков заявил, что ему неизвестно о планах Владимира Путина поздравить Дональда Трампа с победой на выборах.",
    )
    rewrite = Item(
        "2",
        "https://b.example/2",
        "В Кремле ответили на вопрос о поздравлении Трампа",
        "Дмитрий Песков заявил, что ему неизвестно о планах Путина поздравить Трампа с победой на выборах, напомнив, что США — недружественная страна.",
    )
    other = Item(
        "3",
        "https://b.example/3",
        "Песков: разговор Путина и Шольца пока не планируется",
        "Пресс-секретарь Кремля Дмитрий Песков заявил, что телефонный разговор Владимира Путина с канцлером Германии Олафом Шольцем пока не планируется.",
    )
    hits_a = save_poll(fresh_db, ids["https://a.example/f"], update, [entry(first, peskov)], now, RULES)
    hits_b = save_poll(fresh_db, ids["https://b.example/f"], update, [entry(rewrite, peskov), entry(other, peskov)], now, RULES)
    assert len(hits_a) == 1 and [h.title for h in hits_b] == [other.title]
    story = fresh_db.execute("SELECT n_items, n_feeds FROM stories WHERE id = ?", [hits_a[0].story_id]).fetchone()
    assert story == (2, 2)


async def test_a_poll_of_many_feeds_holds_a_bounded_number_of_bodies(ctx: PollContext, server: FeedServer) -> None:
    ctx.in_hand = asyncio.Semaphore(3)
    feeds = []
    for n in range(12):
        url = server.set(f"/f{n}", body=rss([{"title": f"Item {n}", "link": f"https://n.example/{n}"}]), delay=0.05)
        feeds.append(FeedConfig(f"F{n}", "rss", url, url, 600))
    ids = await ctx.db.run(sync_feeds, feeds)
    outcomes = await asyncio.gather(*(poll_feed(ctx, f, ids[f.source]) for f in feeds))
    assert [o.new_items for o in outcomes] == [1] * 12
    assert server.most_in_flight == 3  # the fetcher alone would have asked for all twelve at once


def test_the_feed_servers_answers_in_flight_are_counted_from_its_last_reset(server: FeedServer) -> None:
    gate = threading.Event()
    held = server.set("/held", body=b"x", gate=gate)
    with pytest.raises(OSError):  # the client gives up; the server's answer goes on waiting for the gate
        urllib.request.urlopen(held, timeout=0.3)
    server.reset()  # as between two tests
    try:
        urllib.request.urlopen(server.set("/f", body=b"x"), timeout=5).read()
        assert server.most_in_flight == 1  # the answer left over from before is not counted
    finally:
        gate.set()
