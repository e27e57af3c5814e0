"""/addfeed end to end (tests/adminbot.py): a feed, a channel or a page naming a feed is added to
feeds.yaml with its comments kept; what is not a feed, and any non-public target (an address, a name
resolving to one, a redirect to one), is refused without a change."""

from __future__ import annotations

import socket
from typing import ClassVar

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.config import Settings
from tests.adminbot import USER, config_text, running, story
from tests.botapi import BotAPI
from tests.conftest import corpus_file
from tests.feedserver import FeedServer, rss
from tests.test_telegram import until


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
