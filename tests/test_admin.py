"""Admin commands and hot reload, end to end: `run_forever` in this event loop, the real
python-telegram-bot client against the Bot API emulator, feeds from the local feed server, feeds.yaml
a real file watched by the real watcher (tests/adminbot.py). /addfeed is in test_admin_addfeed.py,
feed health in test_feed_health.py."""

from __future__ import annotations

import asyncio
import io
from datetime import timedelta
from email.utils import format_datetime

from bot.config import Settings
from bot.telegram.admin import NOT_ADMIN
from storage.db import utcnow
from tests.adminbot import ADMIN, USER, config_text, running, story
from tests.botapi import BotAPI
from tests.feedserver import FeedServer, rss
from tests.test_telegram import until


async def test_admin_commands_are_refused_to_everyone_else(settings: Settings, botapi: BotAPI, server: FeedServer) -> None:
    url = server.set("/wire.xml", body=rss([]))
    async with running(settings, botapi, server, config_text(("Wire", url))) as bot:
        before = bot.path.read_bytes()
        for cmd in [
            f"/addfeed {server.url('/other.xml')} Other",
            "/rmfeed 1",
            "/pausefeed Wire",
            "/resumefeed Wire",
            "/addtopic zelensky zelensky",
            "/rmtopic rutte",
            "/feeds",
            "/stats",
            "/alltopics",
            "/testquery rutte",
        ]:
            assert await bot.command(cmd, user=999) == NOT_ADMIN
            assert await bot.command(cmd, user=999, chat=-100500, chat_type="supergroup") == NOT_ADMIN
        assert bot.path.read_bytes() == before
        assert server.hits.get("/other.xml", 0) == 0
        assert "/addfeed" not in await bot.command("/help", user=999)
        assert "<b>For admins</b>\n/feeds — every feed with its health" in await bot.command("/help")
        assert "addfeed" in [c["command"] for c in botapi.state.chat_commands[ADMIN]]
        assert "addfeed" not in [c["command"] for c in botapi.state.commands]


async def test_pause_resume_and_remove_a_feed(settings: Settings, botapi: BotAPI, server: FeedServer) -> None:
    a = server.set("/a.xml", body=rss([story(1, "Peskov denies")]))
    b = server.set("/b.xml", body=rss([]))
    async with running(settings, botapi, server, config_text(("Wire", a), ("Wire Backup", b))) as bot:
        await until(lambda: server.hits.get("/a.xml", 0) >= 1)
        assert await bot.command("/pausefeed wire") == "Paused <b>#1 Wire</b>. /resumefeed 1 polls it again."
        assert "    url: " + a + "\n    interval: 1s\n    enabled: false\n" in bot.path.read_text(encoding="utf-8")
        await asyncio.sleep(0.5)
        polled = server.hits["/a.xml"]
        await asyncio.sleep(2.5)
        assert server.hits["/a.xml"] == polled
        assert "⏸ paused by an admin" in "".join(await bot.replies("/feeds", 1))
        assert await bot.command("/resumefeed 1") == "Resumed <b>#1 Wire</b>: it is polled again now."
        assert "enabled" not in bot.path.read_text(encoding="utf-8")
        await until(lambda: server.hits["/a.xml"] > polled, 10)
        assert (await bot.command("/rmfeed wir")) == "Not done: no feed is called 'wir'; /feeds lists them with their numbers"
        assert (await bot.command("/rmfeed Wire")) == "Removed <b>#1 Wire</b>. Its items and hits are kept."
        assert a not in bot.path.read_text(encoding="utf-8") and "# wires first" in bot.path.read_text(encoding="utf-8")
        assert bot.query("SELECT count(*) FROM items JOIN feeds ON feeds.id = items.feed_id WHERE feeds.name = 'Wire'") == [(1,)]
        assert (await bot.command("/rmfeed Wire")).startswith("Not done: no feed is called")


async def test_topics_testquery_and_stats(settings: Settings, botapi: BotAPI, server: FeedServer) -> None:
    a = server.set("/a.xml", body=rss([story(1, "Peskov denies talks"), story(2, "Weather in Kyiv")]))
    async with running(settings, botapi, server, config_text(("Wire", a))) as bot:
        await until(lambda: bot.query("SELECT count(*) FROM items") == [(2,)])
        reply = await bot.command("/testquery peskov OR weather")
        assert reply.startswith("<b>2 of the last 2 items match</b> <code>peskov OR weather</code>")
        assert '<a href="https://news.example/1">Peskov denies talks</a>' in reply
        assert (await bot.command("/testquery (peskov")).startswith("Not done: that query does not parse")
        await bot.command("/start", user=USER)
        assert (await bot.command("/subscribe kyiv", user=USER)).startswith("Unknown topic <code>kyiv</code>")
        reply = await bot.command('/addtopic kyiv "in kyiv" OR київ')
        assert reply.startswith("Added topic <code>kyiv</code>; subscribers follow it with /subscribe kyiv.")
        assert "<b>1 of the last 2 items matches</b>" in reply
        assert "    query: '\"in kyiv\" OR київ'\n" in bot.path.read_text(encoding="utf-8")
        assert "Now following" in await bot.command("/subscribe kyiv", user=USER)
        server.set("/a.xml", body=rss([story(3, "Blackout in Kyiv tonight")]))
        await until(lambda: any("Blackout in Kyiv" in m.text for m in botapi.messages(USER)), 15)
        assert '<code>"in kyiv" OR київ</code>' in "".join(await bot.replies("/alltopics", 1))
        assert (await bot.command("/addtopic kyiv x")).startswith("Not done: there is already a topic")
        assert (await bot.command("/addtopic Bad! x")).startswith("Not done: 'bad!' cannot be a topic id")
        stats = await bot.command("/stats")
        assert "Feeds: 1 (1 ok)" in stats and "Topics: 3" in stats and "Items: 3" in stats
        assert "Subscribers: 1 active, 0 gone" in stats and "Deliveries: 0 pending, 0 failed, 1 sent" in stats
        assert await bot.command("/rmtopic kyiv") == "Removed topic <code>kyiv</code>."
        assert "kyiv" not in bot.path.read_text(encoding="utf-8")
        assert (await bot.command("/rmtopic kyiv")).startswith("Not done: there is no topic")


async def test_hand_edits_apply_and_a_broken_edit_is_refused(settings: Settings, botapi: BotAPI, server: FeedServer) -> None:
    a = server.set("/a.xml", body=rss([]))
    b = server.set("/b.xml", body=rss([]))
    async with running(settings, botapi, server, config_text(("Wire", a))) as bot:
        good = config_text(("Wire", a), ("Second", b))
        bot.path.write_text(good, encoding="utf-8")
        await until(lambda: server.hits.get("/b.xml", 0) >= 1, 10)
        broken = good.replace("interval: 1s", "interval: soon", 1)
        bot.path.write_text(broken, encoding="utf-8")
        await until(lambda: len(bot.notices()) == 1, 10)
        line = broken.splitlines().index("    interval: soon") + 1
        assert bot.notices()[0] == (
            f"⚠️ <b>feeds.yaml was not applied</b>: feeds.yaml:{line}: feeds[0].interval: 'soon' is not a duration "
            "like 90s, 5m, 1h\nThe bot keeps running with the previous config."
        )
        polled = server.hits["/b.xml"]
        await until(lambda: server.hits["/b.xml"] > polled + 1, 10)  # both feeds still polled
        bot.path.write_text(config_text(("Wire", a)), encoding="utf-8")
        await until(lambda: len(bot.notices()) == 2, 10)
        assert bot.notices()[1] == "⚠️ feeds.yaml is valid again and now applied."
        await asyncio.sleep(1.5)
        stopped = server.hits["/b.xml"]
        await asyncio.sleep(2.5)
        assert server.hits["/b.xml"] == stopped  # removed: no longer polled


async def test_a_new_feeds_old_items_are_kept_but_not_sent(settings: Settings, botapi: BotAPI, server: FeedServer) -> None:
    now = utcnow()
    dated = [
        story(1, "Rutte on the 2% target") | {"pubDate": format_datetime(now - timedelta(days=5))},
        story(2, "Rutte in Kyiv today") | {"pubDate": format_datetime(now - timedelta(hours=1))},
        story(3, "Rutte speaks (no date)"),
    ]
    a = server.set("/a.xml", status=503)  # not read yet: its first successful read brings the backlog
    async with running(settings, botapi, server, config_text(("Wire", a))) as bot:
        await bot.command("/start", user=USER)
        await bot.command("/subscribe rutte", user=USER)
        server.set("/a.xml", body=rss(dated))
        await until(lambda: bot.query("SELECT count(*) FROM hits") == [(3,)], 30)  # after the failures' back-off
        await until(lambda: len(botapi.messages(USER)) == 4, 10)
        await asyncio.sleep(1.5)
        alerts = "\n".join(m.text for m in botapi.messages(USER)[2:])
        assert "Rutte in Kyiv today" in alerts and "Rutte speaks (no date)" in alerts
        assert "2% target" not in alerts and len(botapi.messages(USER)) == 4
        assert bot.query("SELECT count(*) FROM deliveries") == [(2,)]


async def test_a_shorter_interval_applies_at_once(settings: Settings, botapi: BotAPI, server: FeedServer) -> None:
    a = server.set("/a.xml", body=rss([]))
    async with running(settings, botapi, server, config_text(("Wire", a), interval="20s")) as bot:
        await until(lambda: server.hits.get("/a.xml", 0) == 1, 15)  # the first poll, then 18 to 22 s to wait
        bot.path.write_text(config_text(("Wire", a), interval="1s"), encoding="utf-8")
        await until(lambda: server.hits["/a.xml"] >= 3, 6)


async def test_stats_adds_a_chart_of_items_hits_and_failing_feeds(settings: Settings, botapi: BotAPI, server: FeedServer) -> None:
    from PIL import Image

    from bot.trends.chart import HEIGHT, WIDTH

    a = server.set("/a.xml", body=rss([story(1, "Peskov denies talks"), story(2, "Weather in Kyiv")]))
    b = server.set("/b.xml", status=500, body=b"down")
    async with running(settings, botapi, server, config_text(("Wire", a), ("Broken", b))) as bot:
        await until(lambda: bot.query("SELECT count(*) FROM items") == [(2,)] and bool(bot.query("SELECT * FROM feed_failures")))
        before = len(botapi.messages(ADMIN, "sendPhoto"))
        assert "Items: 2" in await bot.command("/stats")
        await until(lambda: len(botapi.messages(ADMIN, "sendPhoto")) > before, 30)
        photo = botapi.messages(ADMIN, "sendPhoto")[-1]
        assert photo.text == "Items, hits and failing feeds per day, 30 days (UTC)"
        assert photo.photo is not None and Image.open(io.BytesIO(photo.photo)).size == (WIDTH, HEIGHT)
        assert {row[1] for row in bot.query("SELECT hour, feed_id FROM feed_failures")} == {2}
        assert botapi.messages(USER, "sendPhoto") == []
        assert await bot.command("/stats", user=USER) == NOT_ADMIN
        await asyncio.sleep(0.3)
        assert botapi.messages(USER, "sendPhoto") == []
