"""Feed health as admins see it, end to end (tests/adminbot.py): a failing feed is one notice and
another on recovery, an outage one notice for every feed, a feed failing for a week is paused until
resumed, /feeds puts problems first, a permanent move is reported once."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from bot.admin import AdminService
from bot.config import Settings, load_config
from bot.pipeline import poll_feed
from bot.runtime import FileConfig, open_runtime
from storage.db import iso, open_database, utcnow
from storage.feeds import sync_feeds
from tests.adminbot import config_text, running, story
from tests.botapi import BotAPI
from tests.feedserver import FeedServer, rss
from tests.test_telegram import until


async def test_failing_feed_tells_admins_once_and_again_on_recovery(
    settings: Settings, botapi: BotAPI, server: FeedServer
) -> None:
    a = server.set("/a.xml", status=503)
    async with running(settings, botapi, server, config_text(("Wire", a)), max_backoff_s=1) as bot:
        await until(lambda: server.hits.get("/a.xml", 0) >= 5, 20)
        notices = bot.notices()
        assert len(notices) == 1
        assert notices[0].startswith("⚠️ Feed <b>Wire</b> (#1) is failing: 3 polls in a row since ")
        assert "fetcher: HTTP 503" in notices[0]
        feeds = "".join(await bot.replies("/feeds", 1))
        assert "❌ failing since" in feeds and "failed polls in a row): fetcher: HTTP 503" in feeds
        server.set("/a.xml", body=rss([]))
        await until(lambda: len(bot.notices()) == 2, 10)
        assert bot.notices()[1].startswith("⚠️ Feed <b>Wire</b> (#1) works again after ")


async def test_an_outage_is_one_notice_not_one_per_feed(settings: Settings, botapi: BotAPI, server: FeedServer) -> None:
    feeds = [(f"Wire {i}", server.set(f"/w{i}.xml", status=502)) for i in range(4)]
    async with running(settings, botapi, server, config_text(*feeds), max_backoff_s=1, notice_delay_s=4.0) as bot:
        await until(lambda: len(bot.notices()) == 1, 20)
        await asyncio.sleep(1)
        [notice] = bot.notices()
        assert notice.startswith("⚠️ <b>Feed health</b>: 4 changes\n\n• Feed <b>Wire ")
        assert all(f"<b>Wire {i}</b>" in notice for i in range(4)) and notice.count("is failing: 3 polls in a row") == 4


async def test_feed_failing_for_a_week_is_paused_until_resumed(
    settings: Settings, botapi: BotAPI, server: FeedServer, tmp_path: Path
) -> None:
    a = server.set("/a.xml", status=500)
    settings.config_path.write_text(config_text(("Wire", a)), encoding="utf-8")
    db = open_database(settings.db_path)
    ids = sync_feeds(db, load_config(settings.config_path).feeds)
    week = iso(utcnow() - timedelta(days=7, minutes=1))
    db.execute("UPDATE feeds SET error_count = 40, failing_since = ? WHERE id = ?", [week, ids[a]])
    db.conn.commit()
    db.close()
    async with running(settings, botapi, server, config_text(("Wire", a))) as bot:
        await until(lambda: len(bot.notices()) == 1, 10)
        assert bot.notices()[0].startswith("⚠️ Feed <b>Wire</b> (#1) is paused: it has failed since ")
        assert bot.notices()[0].endswith("/resumefeed 1 tries it again.")
        polled = server.hits["/a.xml"]
        await asyncio.sleep(2.5)
        assert server.hits["/a.xml"] == polled
        assert "⏸ paused: failing since" in "".join(await bot.replies("/feeds", 1))
        assert "1 paused" in await bot.command("/stats")
        server.set("/a.xml", body=rss([story(1, "Rutte back")]))
        await bot.command("/resumefeed Wire")
        await until(lambda: server.hits["/a.xml"] > polled, 10)
        await until(lambda: bot.query("SELECT paused_reason, error_count FROM feeds") == [(None, 0)], 10)


async def test_feeds_puts_problems_first_and_shows_one_feed_whole(settings: Settings, botapi: BotAPI, server: FeedServer) -> None:
    a = server.set("/a.xml", body=rss([story(1, "Peskov denies")]))
    broken = server.set("/broken.xml", status=500)
    empty = server.set("/empty.xml", body=rss([]))
    text = config_text(("Wire", a), ("Broken", broken), ("Empty", empty))
    async with running(settings, botapi, server, text) as bot:
        await until(lambda: all(server.hits.get(p, 0) >= 1 for p in ("/a.xml", "/broken.xml", "/empty.xml")), 10)
        await asyncio.sleep(0.3)
        [listing] = await bot.replies("/feeds", 1)
        lines = listing.split("\n")
        assert lines[0] == "<b>3 feeds</b>: 1 failing, 1 stale, 1 ok"
        assert lines[2] == "<b>#2 Broken</b> · every 1s" and lines[4].startswith("❌ failing since")
        assert lines[6] == "<b>#3 Empty</b> · every 1s" and lines[8] == "💤 stale: no item yet"
        assert lines[10].startswith("✅ <b>#1 Wire</b> · last new item ")
        one = await bot.command("/feeds wire")
        assert one.startswith(f"<b>#1 Wire</b> · rss · every 1s\n{a}\n✅ ok · last new item ")
        assert "(HTTP 200) · last success " in one and "\n1 item stored · next poll " in one
        [everything] = await bot.replies("/feeds all", 1)
        assert [line for line in everything.split("\n") if line.startswith("<b>#")] == [
            "<b>#1 Wire</b> · every 1s",
            "<b>#2 Broken</b> · every 1s",
            "<b>#3 Empty</b> · every 1s",
        ]
        assert (await bot.command("/feeds nosuch")).startswith("Not done: no feed is called 'nosuch'")


async def test_a_feed_that_moved_permanently_is_reported_once(settings: Settings, botapi: BotAPI, server: FeedServer) -> None:
    new = server.set("/new.xml", body=rss([story(1, "Peskov denies")]))
    old = server.set("/old.xml", status=301, redirect=new)
    async with running(settings, botapi, server, config_text(("Wire", old))) as bot:
        await until(lambda: server.hits.get("/new.xml", 0) >= 3, 10)
        assert bot.notices() == [
            f"⚠️ Feed <b>Wire</b> (#1) moved permanently to {new}; it is read there from now on. "
            "feeds.yaml still names the old address."
        ]
        assert server.hits["/old.xml"] == 1
        assert f"\nMoved permanently: read from {new}\n" in await bot.command("/feeds 1") + "\n"


async def test_feeds_lists_at_most_50_healthy_feeds(settings: Settings, server: FeedServer) -> None:
    urls = [server.set(f"/f{i}.xml", body=rss([story(i, f"Story {i}")])) for i in range(53)]
    settings.config_path.write_text(config_text(*[(f"Feed {i}", u) for i, u in enumerate(urls)]), encoding="utf-8")
    async with open_runtime(settings, load_config(settings.config_path)) as rt:
        for f in rt.config.feeds:
            await poll_feed(rt.ctx, f, rt.feed_ids[f.source])
        svc = AdminService(rt.ctx.db, settings, FileConfig(rt), None)
        text = "\n".join(await svc.feeds())
        assert text.startswith("<b>53 feeds</b>: 53 ok\n")
        assert text.count("✅ <b>#") == 50 and text.endswith("+3 more ok feeds: /feeds all lists every feed")
        assert "\n".join(await svc.feeds("all")).count("✅ ok · last new item") == 53
