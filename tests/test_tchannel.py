from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlite_utils

from bot.config import parse_channel
from bot.models import FeedConfig, Topic
from bot.pipeline import PollContext, poll_feed
from bot.sources.fetcher import Fetcher
from bot.sources.parsing import ParserPool
from bot.sources.tchannel import parse_views
from storage.db import AsyncDB
from storage.feeds import sync_feeds
from tests.feedserver import FeedServer
from tests.test_cli import run_cli


def channel_page(channel: str, posts: list[tuple[int, str]], before: int | None = None) -> bytes:
    """A t.me/s page in Telegram's layout, made here."""
    more = (
        f'<a href="/s/{channel}?before={before}" class="tme_messages_more js-messages_more" data-before="{before}"></a>'
        if before
        else ""
    )
    msgs = "".join(
        f'<div class="tgme_widget_message_wrap"><div class="tgme_widget_message js-widget_message" data-post="{channel}/{n}">'
        f'<div class="tgme_widget_message_text js-message_text">{text}</div>'
        f'<div class="tgme_widget_message_footer"><span class="tgme_widget_message_views">1.5K</span>'
        f'<span class="tgme_widget_message_meta"><a class="tgme_widget_message_date" href="https://t.me/{channel}/{n}">'
        f'<time datetime="2024-10-2{n % 9}T10:00:00+00:00"></time></a></span></div></div></div>'
        for n, text in posts
    )
    return f'<html><body><main><section class="tgme_channel_history">{more}{msgs}</section></main></body></html>'.encode()


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("rian_ru", "rian_ru"),
        ("@rian_ru", "rian_ru"),
        ("https://t.me/rian_ru", "rian_ru"),
        ("https://t.me/s/rian_ru", "rian_ru"),
        ("t.me/meduzalive/", "meduzalive"),
    ],
)
def test_channel_forms_are_accepted(raw: str, name: str) -> None:
    assert parse_channel(raw) == name


@pytest.mark.parametrize("raw", ["abc", "a" * 33, "bad-name", "1abcde", "has space", "abcd_"])
def test_invalid_channel_names_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="public channel username"):
        parse_channel(raw)


@pytest.mark.parametrize(("text", "n"), [("312K", 312000), ("4.19K", 4190), ("1.2M", 1200000), ("950", 950), ("", None)])
def test_views(text: str, n: int | None) -> None:
    assert parse_views(text) == n


@pytest.fixture
async def ctx(fresh_db: sqlite_utils.Database) -> AsyncIterator[PollContext]:
    async with Fetcher(allow_private=True, timeout_s=1.0) as fetcher:
        parser = ParserPool(1, (Topic("peskov", "Peskov", "песков*"),))
        yield PollContext(AsyncDB(fresh_db), fetcher, parser, page_pause_s=0.0)
        parser.close()


async def channel_feed(ctx: PollContext, server: FeedServer, name: str = "newsroom") -> tuple[FeedConfig, int]:
    feed = FeedConfig(name=f"@{name}", kind="telegram", source=f"tg:{name}", url=server.url(f"/s/{name}"), interval_s=300)
    ids = await ctx.db.run(sync_feeds, [feed])
    return feed, ids[feed.source]


async def test_catch_up_pages_back_until_the_gap_is_closed(ctx: PollContext, server: FeedServer) -> None:
    server.set("/s/newsroom", body=channel_page("newsroom", [(1, "first"), (2, "second")]))
    feed, fid = await channel_feed(ctx, server)
    assert (await poll_feed(ctx, feed, fid)).new_items == 2
    # 7 new posts since: the latest page shows 6..9, older pages 3..5
    server.set("/s/newsroom", body=channel_page("newsroom", [(6, "a"), (7, "b"), (8, "c"), (9, "Песков")], before=6))
    server.set("/s/newsroom?before=6", body=channel_page("newsroom", [(3, "x"), (4, "y"), (5, "z")], before=3))
    out = await poll_feed(ctx, feed, fid)
    assert out.new_items == 7 and server.hits["/s/newsroom?before=6"] == 1
    assert [h.url for h in out.hits] == ["https://t.me/newsroom/9"]


async def test_catch_up_bound_records_the_gap(ctx: PollContext, server: FeedServer) -> None:
    server.set("/s/newsroom", body=channel_page("newsroom", [(1, "first")]))
    feed, fid = await channel_feed(ctx, server)
    await poll_feed(ctx, feed, fid)
    server.set("/s/newsroom", body=channel_page("newsroom", [(100, "a")], before=100))
    for n in range(99, 90, -1):  # every older page holds one post: the bound (5 pages) stops first
        server.set(f"/s/newsroom?before={n + 1}", body=channel_page("newsroom", [(n, "p")], before=n))
    await poll_feed(ctx, feed, fid)
    note = ctx.db.db.execute("SELECT note FROM feeds WHERE id = ?", [fid]).fetchone()[0]
    assert note.startswith("tchannel: gap:") and "after 5 older pages" in note


async def test_no_paging_on_the_first_poll(ctx: PollContext, server: FeedServer) -> None:
    server.set("/s/newsroom", body=channel_page("newsroom", [(50, "a")], before=50))
    feed, fid = await channel_feed(ctx, server)
    await poll_feed(ctx, feed, fid)
    assert server.hits["/s/newsroom?before=50"] == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b'<html><body><div class="tgme_page"><div class="tgme_page_title">Secret</div>'
            b'<div class="tgme_page_extra">1 200 subscribers</div></div></body></html>',
            "has no public preview",
        ),
        (
            b'<html><body><div class="tgme_page"><a class="tgme_action_button_new">Send</a></div></body></html>',
            "no such channel @newsroom",
        ),
        (b"<html><body><div class='new-layout'>posts</div></body></html>", "tchannel: t.me layout not recognised"),
    ],
)
async def test_channel_errors_name_their_cause(ctx: PollContext, server: FeedServer, body: bytes, message: str) -> None:
    server.set("/newsroom", body=body)
    server.set("/s/newsroom", status=302, redirect="/newsroom")
    if "layout" in message:
        server.set("/s/newsroom", body=body)
    feed, fid = await channel_feed(ctx, server)
    out = await poll_feed(ctx, feed, fid)
    assert out.status == "error" and message in (out.error or "")


async def test_rate_limited_channel_is_retried_later(ctx: PollContext, server: FeedServer) -> None:
    server.set("/s/newsroom", status=429, headers={"Retry-After": "900"})
    feed, fid = await channel_feed(ctx, server)
    out = await poll_feed(ctx, feed, fid)
    assert out.status == "error" and "HTTP 429" in (out.error or "")
    assert (out.next_poll_at - ctx.clock()).total_seconds() >= 890


def test_channel_post_end_to_end_through_once(server: FeedServer, tmp_path: Path) -> None:
    server.set("/s/kremlin_watch", body=channel_page("kremlin_watch", [(41, "Погода"), (42, "Песков: Кремль не комментирует")]))
    server.set(
        "/rss",
        body=b"<rss version='2.0'><channel><title>t</title><item><title>Peskov again</title>"
        b"<link>https://t.me/kremlin_watch/42</link></item></channel></rss>",
    )
    cfg = tmp_path / "feeds.yaml"
    cfg.write_text(
        "topics:\n  - id: peskov\n    query: peskov OR песков*\nfeeds:\n"
        f"  - telegram: '@kremlin_watch'\n  - name: Mirror\n    url: {server.url('/rss')}\n",
        encoding="utf-8",
    )
    out = run_cli(
        "once", "--config", str(cfg), "--db", str(tmp_path / "nw.db"), "--json", env_extra={"TELEGRAM_WEB_URL": server.url("")}
    )
    hits = [json.loads(line) for line in out.stdout.splitlines()]
    assert out.returncode == 0, out.stderr
    # the channel post and the RSS item linking to it are one story: one hit
    assert len(hits) == 1 and hits[0]["url"] == "https://t.me/kremlin_watch/42" and hits[0]["topic"] == "peskov"
