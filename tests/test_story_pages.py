"""Every story reachable, and alerts that grow: the real python-telegram-bot client against the Bot API
emulator, real feeds from the feed server, a real SQLite file kept across a restart.

- A digest with 30 stories in one topic shows 10 and a "+20 more" button; the button and the page
  buttons under what it opens reach the other 20, each exactly once, after a restart too.
- A burst's "+N more" button reaches the stories the burst left out.
- /latest lists a topic's newest stories page by page.
- An alert is edited (never resent) when more outlets carry its story, at most once per edit gap.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.app import DeliveryRuntime, open_delivery
from bot.config import Settings, parse_config
from bot.delivery.outbox import OutboxPolicy
from bot.pipeline import poll_feed
from bot.runtime import Runtime, open_runtime
from storage.db import AsyncDB, utcnow
from storage.outbox import outbox_counts
from storage.subscribers import get_subscriber, start_subscriber, subscribe, update_subscriber
from tests.botapi import BotAPI, Sent
from tests.feedserver import FeedServer, rss
from tests.test_telegram import FAST, story, until

FEEDS = ("Wire", "Reuters", "BBC", "AP")


def config_text(server: FeedServer) -> str:
    feeds = "\n".join(f"  - name: {name}\n    url: {server.url(f'/{name.lower()}.xml')}" for name in FEEDS)
    return f"""
settings:
  timezone: UTC
  max_age: off
topics:
  - id: rutte
    name: Mark Rutte
    query: rutte OR рютте* OR 뤼터
  - id: peskov
    name: Dmitry Peskov
    query: peskov OR песков*
feeds:
{feeds}
"""


@dataclass
class Bot:
    rt: Runtime
    dl: DeliveryRuntime
    api: BotAPI

    @property
    def db(self) -> AsyncDB:
        return self.rt.ctx.db

    async def poll(self, *names: str) -> None:
        for feed in self.rt.config.feeds:
            if feed.name in names:
                await poll_feed(self.rt.ctx, feed, self.rt.feed_ids[feed.source])

    async def drain(self) -> None:
        for _ in range(100):
            await self.dl.outbox.drain()
            if not (await self.db.run(outbox_counts)).get("pending"):
                return
        raise AssertionError("outbox not drained")

    async def press(self, chat_id: int, message: Sent, label_part: str) -> None:
        """Press the button whose label contains `label_part` and wait until the bot answered it."""
        data = button(message, label_part)
        answers = len(self.api.state.callback_answers)
        self.api.press_button(chat_id, message.message_id, data)
        await until(lambda: len(self.api.state.callback_answers) > answers)


@asynccontextmanager
async def running_bot(settings: Settings, server: FeedServer, api: BotAPI, policy: OutboxPolicy = FAST) -> AsyncIterator[Bot]:
    for name in FEEDS:
        if f"/{name.lower()}.xml" not in server.routes:
            server.set(f"/{name.lower()}.xml", body=rss([]))
    config = parse_config(config_text(server), settings.config_path)
    settings = replace(settings, bot_token="123:TEST", api_url=api.base_url)
    async with open_runtime(settings, config) as rt, open_delivery(rt, io.StringIO(), policy) as dl:
        yield Bot(rt, dl, api)


def buttons(message: Sent) -> list[tuple[str, str]]:
    rows = (message.reply_markup or {}).get("inline_keyboard", [])
    return [(b["text"], b["callback_data"]) for row in rows for b in row]


def button(message: Sent, label_part: str) -> str:
    (data,) = [d for label, d in buttons(message) if label_part in label]
    assert len(data.encode()) <= 64  # Telegram's limit for callback data
    return data


def links(text: str) -> list[str]:
    return re.findall(r'<a href="([^"]+)">', text)


async def add_chat(bot: Bot, chat_id: int, mode: str = "instant") -> None:
    await bot.db.run(start_subscriber, chat_id, None, "private", None, utcnow())
    await bot.db.run(subscribe, chat_id, ["rutte"])
    await bot.db.run(update_subscriber, chat_id, mode=mode, next_digest_at=utcnow() if mode == "digest" else None)


async def test_digest_of_30_stories_reaches_every_story_once_through_the_button_after_a_restart(
    settings: Settings, server: FeedServer, botapi: BotAPI
) -> None:
    server.set("/wire.xml", body=rss([story(i, f"Rutte update number {i}") for i in range(30)]))
    async with running_bot(settings, server, botapi) as bot:
        await add_chat(bot, 701, "digest")
        await bot.poll("Wire")
        assert await bot.dl.outbox.send_digests(utcnow() + timedelta(seconds=1)) == 1
        (digest,) = botapi.messages(701)
        assert "<b>Mark Rutte</b> (30)" in digest.text and "+20 more" in digest.text
        assert len(links(digest.text)) == 10
        assert [label for label, _ in buttons(digest)] == ["Mark Rutte: 20 more ›"]
    async with running_bot(settings, server, botapi) as bot:  # a restart: the button still works
        await bot.press(701, digest, "20 more")
        await until(lambda: len(botapi.messages(701)) == 2)
        first = botapi.messages(701)[-1]
        assert first.text.startswith("📰 <b>Mark Rutte</b> · from the digest of ")
        assert "11–20 of 30" in first.text and len(links(first.text)) == 10
        assert [label for label, _ in buttons(first)] == ["Next › (2/2)"]
        await bot.press(701, first, "Next")
        await until(lambda: len(botapi.messages(701, "editMessageText")) == 1)
        second = botapi.messages(701, "editMessageText")[-1]
        assert second.message_id == first.message_id  # the page changes in place
        assert "21–30 of 30" in second.text and len(links(second.text)) == 10
        assert [label for label, _ in buttons(second)] == ["‹ Previous"]
        seen = Counter(links(digest.text) + links(first.text) + links(second.text))
        assert seen == Counter({f"https://news.example/{i}": 1 for i in range(30)})
        await bot.press(701, second, "Previous")  # and back
        await until(lambda: len(botapi.messages(701, "editMessageText")) == 2)
        assert links(botapi.messages(701, "editMessageText")[-1].text) == links(first.text)
        assert len(botapi.messages(701)) == 2  # paging sent no new message


async def test_a_button_of_another_chat_or_a_forgotten_list_says_so(
    settings: Settings, server: FeedServer, botapi: BotAPI
) -> None:
    server.set("/wire.xml", body=rss([story(i, f"Rutte update number {i}") for i in range(12)]))
    async with running_bot(settings, server, botapi) as bot:
        await add_chat(bot, 702, "digest")
        await add_chat(bot, 703, "digest")
        await bot.poll("Wire")
        await bot.dl.outbox.send_digests(utcnow() + timedelta(seconds=1))
        (digest,) = botapi.messages(702)
        data = button(digest, "2 more")
        botapi.press_button(703, digest.message_id, data)  # the list is 702's
        await until(lambda: len(botapi.state.callback_answers) == 1)
        botapi.press_button(702, digest.message_id, "more:99999")
        await until(lambda: len(botapi.state.callback_answers) == 2)
        assert all("no longer kept" in a["text"] for a in botapi.state.callback_answers)
        assert len(botapi.messages(703)) == 1 and len(botapi.messages(702)) == 1


async def test_a_bursts_more_button_reaches_the_stories_it_left_out(
    settings: Settings, server: FeedServer, botapi: BotAPI
) -> None:
    async with running_bot(settings, server, botapi) as bot:
        await add_chat(bot, 711)
        server.set("/wire.xml", body=rss([story(i, f"Rutte update number {i}") for i in range(13)]))
        await bot.poll("Wire")
        await bot.drain()
        (burst,) = botapi.messages(711)
        assert burst.text.startswith("🔔 <b>13 new stories</b> · Mark Rutte\n") and burst.text.endswith("\n+3 more")
        await bot.press(711, burst, "3 more")
        await until(lambda: len(botapi.messages(711)) == 2)
        rest = botapi.messages(711)[-1]
        assert "11–13 of 13" in rest.text and buttons(rest) == []
        seen = Counter(links(burst.text) + links(rest.text))
        assert seen == Counter({f"https://news.example/{i}": 1 for i in range(13)})


async def test_latest_lists_a_topics_newest_stories_page_by_page(settings: Settings, server: FeedServer, botapi: BotAPI) -> None:
    server.set("/wire.xml", body=rss([story(i, f"Rutte update number {i}") for i in range(14)]))
    async with running_bot(settings, server, botapi) as bot:
        await bot.poll("Wire")
        botapi.user_sends(721, "/latest Mark Rutte")
        await until(lambda: len(botapi.messages(721)) == 1)
        page = botapi.messages(721)[-1]
        assert page.text.startswith("🗂 <b>Mark Rutte</b> · latest stories 1–10 of 14\n")
        assert "(UTC)" in page.text.split("\n")[2]  # the zone, named once, after the first time
        await bot.press(721, page, "Next")
        await until(lambda: len(botapi.messages(721, "editMessageText")) == 1)
        nxt = botapi.messages(721, "editMessageText")[-1]
        assert Counter(links(page.text) + links(nxt.text)) == Counter({f"https://news.example/{i}": 1 for i in range(14)})
        botapi.user_sends(721, "/latest nothing-like-it")
        await until(lambda: len(botapi.messages(721)) == 2)
        assert "Unknown topic <code>nothing-like-it</code>" in botapi.messages(721)[-1].text
        botapi.user_sends(721, "/latest peskov")
        await until(lambda: len(botapi.messages(721)) == 3)
        assert botapi.messages(721)[-1].text == "No stories about Dmitry Peskov yet."


def carried_by(feed: str) -> bytes:
    """The same report (same link) as another outlet carries it."""
    return rss([{"title": "Rutte arrives in Kyiv", "link": "https://news.example/kyiv", "guid": f"{feed}-1"}])


async def test_an_alert_is_edited_once_when_three_more_outlets_carry_its_story(
    settings: Settings, server: FeedServer, botapi: BotAPI
) -> None:
    async with running_bot(settings, server, botapi, replace(FAST, edit_gap_s=0.0, edit_check_s=0.0)) as bot:
        await add_chat(bot, 731)
        server.set("/wire.xml", body=carried_by("wire"))
        await bot.poll("Wire")
        await bot.drain()
        (alert,) = botapi.messages(731)
        assert "also:" not in alert.text
        for name in ("Reuters", "BBC", "AP"):
            server.set(f"/{name.lower()}.xml", body=carried_by(name))
        await bot.poll("Reuters", "BBC", "AP")
        await bot.drain()
        await bot.drain()
        (edit,) = botapi.messages(731, "editMessageText")
        assert edit.message_id == alert.message_id
        assert edit.text == alert.text + "\nalso: Reuters, BBC, +1 · 4 outlets"
        assert botapi.state.calls["editMessageText"] == 1  # once: nothing left to edit
        assert len(botapi.messages(731)) == 1  # no new message, so no new notification
        assert botapi.current(731, alert.message_id) == edit


async def test_a_growing_alert_is_edited_at_most_once_per_gap(settings: Settings, server: FeedServer, botapi: BotAPI) -> None:
    shift = timedelta()

    def clock() -> datetime:
        return utcnow() + shift

    async with running_bot(settings, server, botapi, replace(FAST, edit_gap_s=300.0)) as bot:
        bot.dl.outbox.clock = bot.dl.outbox.growth.clock = clock
        await add_chat(bot, 741)
        server.set("/wire.xml", body=carried_by("wire"))
        await bot.poll("Wire")
        await bot.drain()
        server.set("/reuters.xml", body=carried_by("reuters"))
        await bot.poll("Reuters")
        await bot.drain()
        assert botapi.messages(741, "editMessageText") == []  # sent less than 5 minutes ago
        shift = timedelta(minutes=6)
        await bot.drain()
        assert [e.text.rsplit("\n", 1)[-1] for e in botapi.messages(741, "editMessageText")] == ["also: Reuters · 2 outlets"]
        server.set("/bbc.xml", body=carried_by("bbc"))
        await bot.poll("BBC")
        await bot.drain()
        assert len(botapi.messages(741, "editMessageText")) == 1  # edited less than 5 minutes ago
        shift = timedelta(minutes=12)
        await bot.drain()
        assert botapi.messages(741, "editMessageText")[-1].text.endswith("\nalso: Reuters, BBC · 3 outlets")
        assert len(botapi.messages(741, "editMessageText")) == 2 and len(botapi.messages(741)) == 1


async def test_a_deleted_alert_stops_growing(settings: Settings, server: FeedServer, botapi: BotAPI) -> None:
    async with running_bot(settings, server, botapi, replace(FAST, edit_gap_s=0.0, edit_check_s=0.0)) as bot:
        await add_chat(bot, 751)
        server.set("/wire.xml", body=carried_by("wire"))
        await bot.poll("Wire")
        await bot.drain()
        botapi.state.sent.clear()  # the chat no longer has the message: Telegram answers "not found"
        server.set("/ap.xml", body=carried_by("ap"))
        await bot.poll("AP")
        await bot.drain()
        await bot.drain()
        assert botapi.state.calls["editMessageText"] == 1 and botapi.messages(751) == []
        sub = await bot.db.run(get_subscriber, 751)
        assert sub is not None and sub.active


async def test_a_chats_topics_come_in_one_order_in_every_reply(settings: Settings, server: FeedServer, botapi: BotAPI) -> None:
    async with running_bot(settings, server, botapi):
        botapi.user_sends(761, "/subscribe peskov")
        await until(lambda: len(botapi.messages(761)) == 1)
        botapi.user_sends(761, "/subscribe peskov rutte")
        await until(lambda: len(botapi.messages(761)) == 2)
        botapi.user_sends(761, "/status")
        await until(lambda: len(botapi.messages(761)) == 3)
        _, both, status = (m.text for m in botapi.messages(761))
        assert both == "Now following: Mark Rutte.\nAll your topics: Mark Rutte, Dmitry Peskov."
        assert status.startswith("Following: Mark Rutte, Dmitry Peskov\n")


async def test_the_next_digest_reads_as_today_or_tomorrow(settings: Settings, server: FeedServer, botapi: BotAPI) -> None:
    async with running_bot(settings, server, botapi):
        botapi.user_sends(771, "/start")
        await until(lambda: len(botapi.messages(771)) == 1)
        botapi.user_sends(771, "/digest 08:00")
        await until(lambda: len(botapi.messages(771)) == 2)
        assert re.fullmatch(r"Digests at 08:00 \(UTC\)\. Next: (today|tomorrow) 08:00\.", botapi.messages(771)[-1].text)


async def test_drains_look_for_grown_alerts_at_most_once_per_check_interval(
    settings: Settings, server: FeedServer, botapi: BotAPI
) -> None:
    shift = timedelta()

    def clock() -> datetime:
        return utcnow() + shift

    async with running_bot(settings, server, botapi, replace(FAST, edit_gap_s=0.0, edit_check_s=30.0)) as bot:
        bot.dl.outbox.clock = bot.dl.outbox.growth.clock = clock
        await add_chat(bot, 781)
        server.set("/wire.xml", body=carried_by("wire"))
        await bot.poll("Wire")
        await bot.drain()  # sends the alert and looks for grown ones: none yet
        server.set("/bbc.xml", body=carried_by("bbc"))
        await bot.poll("BBC")
        await bot.drain()
        assert botapi.state.calls["editMessageText"] == 0  # looked less than 30 s ago
        shift = timedelta(seconds=31)
        await bot.drain()
        assert botapi.messages(781, "editMessageText")[-1].text.endswith("\nalso: BBC · 2 outlets")
