"""Replies Telegram accepts whatever the user typed, and feed titles shown as their feed wrote them:
the real python-telegram-bot client against the Bot API emulator (which refuses a message over 4096
characters, as Telegram does), and the splitting rules on their own."""

from __future__ import annotations

import html
import logging
import re

import pytest

from bot.config import Settings
from bot.delivery.render import cap_html, echo, html_to_plain, split_html, utf16_len
from bot.sources.rss import parse_feed
from tests.botapi import BotAPI
from tests.feedserver import FeedServer, rss
from tests.test_telegram import add_subscribers, running_bot, story


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/" + "a" * 4095, "I don't know /aaa"),
        ("/timezone " + "a" * 4086, "Unknown time zone <code>aaa"),
        ("/subscribe " + " ".join("a" * 2042), "Unknown topic <code>a</code>, <code>a</code>"),
        ("/digest " + "9" * 4088, "'9999"),
    ],
)
async def test_a_reply_quoting_a_huge_input_is_sent_cut(
    settings: Settings, server: FeedServer, botapi: BotAPI, caplog: pytest.LogCaptureFixture, command: str, expected: str
) -> None:
    async with running_bot(settings, server, botapi) as bot:
        await bot.command(1401, "/start")
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            reply = await bot.command(1401, command)
        assert expected in reply and utf16_len(reply) <= 4096
        assert "…" in reply or "more" in reply
        assert len(botapi.messages(1401)) == 2
        assert [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info] == []


def balanced(part: str) -> bool:
    stack: list[str] = []
    for closing, name in re.findall(r"<(/?)([a-z-]+)[^>]*>", part):
        if not closing:
            stack.append(name)
        elif not stack or stack.pop() != name:
            return False
    return not stack


def visible(parts: list[str]) -> str:
    return re.sub(r"\s", "", "".join(html.unescape(re.sub(r"<[^>]*>", "", p)) for p in parts))


@pytest.mark.parametrize(
    ("text", "limit", "count"),
    [
        ("short <b>one</b>", 4096, 1),
        ("\n".join(f"<b>line {i}</b> &amp; more" for i in range(400)), 4096, 3),
        ("<b>" + "&amp;" * 3000 + "</b>", 4096, 4),  # entities are never cut
        ('<a href="https://e.example/x">' + "word " * 2000 + "</a>", 4096, 3),  # the link reopens after each cut
        ("<b>bold\n<i>both\n" + "x" * 80 + "</i></b>", 40, 6),  # cut at the line break first
        ("😀" * 3000, 4096, 2),  # UTF-16: an emoji counts 2
    ],
)
def test_split_html_never_cuts_a_tag_or_an_entity(text: str, limit: int, count: int) -> None:
    parts = split_html(text, limit)
    assert len(parts) == count
    assert all(utf16_len(p) <= limit and balanced(p) for p in parts)
    assert not any(re.search(r"&[#\w]*$", re.sub(r"<[^>]*>", "", p)) for p in parts)
    assert visible(parts) == visible([text])


def test_cap_and_echo() -> None:
    (capped,) = cap_html("<b>" + "y" * 5000 + "</b>")
    assert capped.endswith("</b>…") and utf16_len(capped) <= 4096
    assert echo("<" + "b" * 100) == "&lt;" + "b" * 62 + "…"
    assert echo("Europe/Kyiv") == "Europe/Kyiv"


LITERAL = "Zanzibar <script>&amp;</b> quokka"


@pytest.mark.parametrize(
    ("feed", "title"),
    [
        (rss([{"title": html.escape(LITERAL, quote=False), "guid": "1"}]), LITERAL),
        (rss([{"title": f"<![CDATA[{LITERAL}]]>", "guid": "1"}]), LITERAL),
        (rss([{"title": "&lt;b&gt;Bold&lt;/b&gt; news &amp;amp; more", "guid": "1"}]), "Bold news & more"),
        (
            b'<feed xmlns="http://www.w3.org/2005/Atom"><title>f</title><entry><id>1</id>'
            b'<title type="text">Zanzibar &lt;script&gt;&amp;amp;&lt;/b&gt; quokka</title></entry></feed>',
            LITERAL,
        ),
        (
            b'<feed xmlns="http://www.w3.org/2005/Atom"><title>f</title><entry><id>1</id>'
            b'<title type="html">Zanzibar &lt;i&gt;quokka&lt;/i&gt; &amp;amp; co</title></entry></feed>',
            "Zanzibar quokka & co",
        ),
    ],
)
def test_a_title_is_read_by_its_declared_type(feed: bytes, title: str) -> None:
    (item,) = parse_feed(feed).items
    assert item.title == title


async def test_a_plain_text_title_reaches_the_subscriber_whole(settings: Settings, server: FeedServer, botapi: BotAPI) -> None:
    async with running_bot(settings, server, botapi) as bot:
        await add_subscribers(bot, [1501])
        server.set("/wire.xml", body=rss([story(1, html.escape(f"Rutte in {LITERAL}", quote=False))]))
        await bot.poll()
        await bot.drain_all()
        (alert,) = botapi.messages(1501)
        assert f"Rutte in {LITERAL}" in html_to_plain(alert.text)
        assert "Rutte in Zanzibar &lt;script&gt;&amp;amp;&lt;/b&gt; quokka</a>" in alert.text
