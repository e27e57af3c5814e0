"""Admin commands, hot reload and feed health, end to end: `run_forever` in this event loop, the real
python-telegram-bot client against the Bot API emulator, feeds from the local feed server, feeds.yaml
a real file watched by the real watcher."""

from __future__ import annotations

import asyncio
import io
import socket
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.admin import AdminService
from bot.app import run_forever
from bot.config import Settings, load_config
from bot.pipeline import poll_feed
from bot.runtime import FileConfig, open_runtime
from bot.telegram.admin import NOT_ADMIN, STARTING
from storage.db import iso, open_database, utcnow
from storage.feeds import sync_feeds
from tests.botapi import BotAPI
from tests.conftest import corpus_file
from tests.feedserver import FeedServer, rss
from tests.test_telegram import until

ADMIN = 4242
USER = 111


def config_text(*feeds: tuple[str, str], interval: str = "1s") -> str:
    lines = [
        "# Newswatch test config",
        "settings:",
        "  timezone: UTC  # digests in UTC",
        "",
        "topics:",
        "  # the NATO one",
        "  - id: rutte",
        "    name: Mark Rutte",
        "    query: rutte OR рютте",
        "  - id: peskov",
        "    query: peskov OR песков",
        "",
        "feeds:",
        "  # wires first",
    ]
    for name, url in feeds:
        lines += [f"  - name: {name}", f"    url: {url}", f"    interval: {interval}"]
    return "\n".join(lines) + "\n"


def story(n: int, title: str) -> dict[str, str]:
    return {"title": title, "link": f"https://news.example/{n}", "guid": str(n)}


@dataclass
class Running:
    settings: Settings
    api: BotAPI
    server: FeedServer

    @property
    def path(self) -> Path:
        return self.settings.config_path

    async def command(self, text: str, user: int = ADMIN, chat: int | None = None, **kw: Any) -> str:
        """Send a command and return the bot's (first) reply."""
        chat_id = chat if chat is not None else user
        before = len(self.api.messages(chat_id))
        self.api.user_sends(chat_id, text, user_id=user, **kw)
        await until(lambda: len(self.api.messages(chat_id)) > before, 15)
        return self.api.messages(chat_id)[before].text

    async def replies(self, text: str, count: int) -> list[str]:
        """Send an admin command answered in `count` messages; return them."""
        before = len(self.api.messages(ADMIN))
        self.api.user_sends(ADMIN, text)
        await until(lambda: len(self.api.messages(ADMIN)) >= before + count, 15)
        return [m.text for m in self.api.messages(ADMIN)[before:]]

    def notices(self) -> list[str]:
        """Messages the admin got without asking (health and config notices)."""
        return [m.text for m in self.api.messages(ADMIN) if m.text.startswith("⚠️")]

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(self.settings.db_path)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()


@asynccontextmanager
async def running(settings: Settings, api: BotAPI, server: FeedServer, text: str, **over: Any) -> AsyncIterator[Running]:
    settings.config_path.write_text(text, encoding="utf-8")
    over = {"notice_delay_s": 0.2} | over
    settings = replace(settings, bot_token="123:TEST", api_url=api.base_url, admin_ids=(ADMIN,), **over)
    stop = asyncio.Event()
    task = asyncio.create_task(run_forever(settings, load_config(settings.config_path), stop, out=io.StringIO()))
    bot = Running(settings, api, server)
    try:
        while await bot.command("/stats") == STARTING:
            await asyncio.sleep(0.05)
        yield bot
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


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


async def test_addfeed_keeps_comments_and_the_new_feed_delivers(settings: Settings, botapi: BotAPI, server: FeedServer) -> None:
    a = server.set("/a.xml", body=rss([]))
    b = server.set("/b.xml", body=rss([story(1, "Rutte meets Zelensky in Kyiv")], title="Wire Two"))
    async with running(settings, botapi, server, config_text(("Wire", a))) as bot:
        await bot.command("/start", user=USER)
        await bot.command("/subscribe rutte", user=USER)
        before = bot.path.read_text(encoding="utf-8")
        reply = await bot.command(f"/addfeed {b} 1s")
        assert reply == "Added <b>#2 Wire Two</b> (rss, every 1s): 1 item on it now."
        assert bot.path.read_text(encoding="utf-8") == before + f"  - name: Wire Two\n    url: {b}\n    interval: 1s\n"
        await until(lambda: len(botapi.messages(USER)) == 3, 15)
        assert "Rutte meets Zelensky in Kyiv" in botapi.messages(USER)[2].text
        assert "already there: #2 Wire Two" in await bot.command(f"/addfeed {b}")
        home = server.set(
            "/home", body=b'<html><head><link rel="alternate" type="application/rss+xml" href="/b.xml"></head></html>'
        )
        assert (await bot.command(f"/addfeed {home}")) == "Not done: that feed is already there: #2 Wire Two"
        c = server.set("/c.xml", body=rss([], title="Wire Three"))
        site = server.set(
            "/three/", body=b'<html><head><link rel="alternate" type="application/rss+xml" href="../c.xml"></head></html>'
        )
        reply = await bot.command(f"/addfeed {site}")
        assert reply == f"Added <b>#3 Wire Three</b> (rss, every 10m) (found on {site}): 0 items on it now."
        assert f"    url: {c}\n" in bot.path.read_text(encoding="utf-8") and site not in bot.path.read_text(encoding="utf-8")


async def test_addfeed_refuses_what_is_neither_a_feed_nor_a_channel(
    settings: Settings, botapi: BotAPI, server: FeedServer
) -> None:
    a = server.set("/a.xml", body=rss([]))
    page = server.set("/page.html", body=b"<html><body><p>Just a web page</p></body></html>")
    missing = server.set("/missing.xml", status=404)
    broken = server.set("/broken.xml", body=b"<html>no feed here</html>")
    server.set("/s/nochannel_x", body=corpus_file("tchannel/readoza__tme_channel_missing.html").read_bytes())
    server.set("/s/breakingmash", body=corpus_file("tchannel/readoza__tme_s_breakingmash.html").read_bytes())
    web = server.url("").rstrip("/")
    async with running(settings, botapi, server, config_text(("Wire", a)), web_url=web) as bot:
        before = bot.path.read_bytes()
        assert await bot.command(f"/addfeed {page}") == "Not done: not a feed (it looks like an HTML page, and it names no feed)"
        assert (await bot.command(f"/addfeed {missing}")).startswith("Not done: could not fetch it: fetcher: HTTP 404")
        assert (await bot.command("/addfeed @nochannel_x")).startswith("Not done: not a public channel: tchannel:")
        assert (await bot.command("/addfeed gopher://x.example/feed")).startswith("Not done: only http and https")
        assert (await bot.command("/addfeed")).startswith("Not done: usage: /addfeed &lt;feed URL or @channel&gt;")
        assert bot.path.read_bytes() == before
        site = server.set("/site", body=f'<html><head><link rel="alternate" type="application/rss+xml" href="{broken}">'.encode())
        assert (await bot.command(f"/addfeed {site}")).startswith(
            f"Not done: the page names the feed {broken}, but it is not one"
        )
        reply = await bot.command("/addfeed https://t.me/breakingmash Mash 5m")
        assert reply.startswith("Added <b>#2 Mash</b> (telegram, every 5m): ")
        assert "  - name: Mash\n    telegram: breakingmash\n    interval: 5m\n" in bot.path.read_text(encoding="utf-8")


class FakeDNS(AbstractResolver):
    """Stands in for DNS (there is none in the tests): these names resolve to these addresses."""

    NAMES: ClassVar[dict[str, str]] = {
        "feeds.example.net": "127.0.0.1",
        "intranet.example.net": "10.1.2.3",
        "news.example.net": "127.0.0.1",
    }

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        if host not in self.NAMES:
            raise OSError(f"no such host {host}")
        address = self.NAMES[host]
        return [{"hostname": host, "host": address, "port": port, "family": socket.AF_INET, "proto": 0, "flags": 0}]

    async def close(self) -> None:
        return None


async def test_addfeed_refuses_non_public_targets(
    settings: Settings, botapi: BotAPI, server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.sources.fetcher.DefaultResolver", FakeDNS)
    port = server.url("/").split(":")[2].split("/")[0]
    a = server.set("/a.xml", body=rss([]))
    server.set("/feed.xml", body=rss([story(1, "Rutte")]))
    targets = [
        f"http://127.0.0.1:{port}/feed.xml",
        "http://10.0.0.1/feed.xml",
        "http://169.254.169.254/latest/meta-data",
        f"http://[::1]:{port}/feed.xml",
        f"http://0x7f000001:{port}/feed.xml",
        f"http://localhost:{port}/feed.xml",
        f"http://feeds.example.net:{port}/feed.xml",  # a name that resolves to loopback
        "http://intranet.example.net/feed.xml",  # a name that resolves to a private address
    ]
    # The Wire feed itself is refused too (127.0.0.1): its health notice must not land among the replies.
    async with running(settings, botapi, server, config_text(("Wire", a)), allow_private_urls=False, notice_delay_s=600.0) as bot:
        before = bot.path.read_bytes()
        for target in targets:
            reply = await bot.command(f"/addfeed {target}")
            assert reply.startswith("Not done: refused: fetcher:"), (target, reply)
        assert bot.path.read_bytes() == before
        assert server.hits.get("/feed.xml", 0) == 0


async def test_addfeed_refuses_a_public_url_that_redirects_inside(
    settings: Settings, botapi: BotAPI, server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.sources import fetcher

    monkeypatch.setattr("bot.sources.fetcher.DefaultResolver", FakeDNS)
    real = fetcher.is_public_address
    # The test server stands for a public host: its address is the one non-public address let through.
    monkeypatch.setattr("bot.sources.fetcher.is_public_address", lambda a: a == "127.0.0.1" or real(a))
    port = server.url("/").split(":")[2].split("/")[0]
    a = server.set("/a.xml", body=rss([]))
    server.set("/names-metadata", body=b'<link rel="alternate" type="application/rss+xml" href="http://169.254.169.254/feed">')
    hops = {
        "/names-metadata": "",
        "/to-loopback": f"http://[::1]:{port}/feed.xml",
        "/to-metadata": "http://169.254.169.254/latest/meta-data",
        "/to-intranet": "http://intranet.example.net/feed.xml",
        "/to-localhost": f"http://localhost:{port}/feed.xml",
    }
    for path, target in hops.items():
        if target:
            server.set(path, status=302, redirect=target)
    async with running(settings, botapi, server, config_text(("Wire", a)), allow_private_urls=False) as bot:
        before = bot.path.read_bytes()
        for path in hops:
            reply = await bot.command(f"/addfeed http://news.example.net:{port}{path}")
            assert reply.startswith("Not done: refused: fetcher:"), (path, reply)
            assert server.hits[path] == 1
        assert bot.path.read_bytes() == before


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
