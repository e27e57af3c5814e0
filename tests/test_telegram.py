"""The real python-telegram-bot client against the Bot API emulator: commands, alerts, digests, faults."""

from __future__ import annotations

import asyncio
import io
import itertools
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, timedelta

import pytest

from bot.app import DeliveryRuntime, open_delivery
from bot.config import Settings, parse_config
from bot.delivery.outbox import OutboxPolicy
from bot.pipeline import poll_feed
from bot.runtime import Runtime, open_runtime
from storage.db import AsyncDB, utcnow
from storage.outbox import outbox_counts
from storage.subscribers import get_subscriber, start_subscriber, subscribe, topics_of
from tests.botapi import BotAPI, Fault
from tests.feedserver import FeedServer, rss

ADMIN = 4242
FAST = OutboxPolicy(private_gap_s=0.0, retry_base_s=0.05, idle_check_s=0.1)


def config_text(feed_url: str) -> str:
    return f"""
settings:
  timezone: UTC
  max_age: off  # the stories below are from October 2024
topics:
  - id: rutte
    name: Mark Rutte
    query: rutte OR рютте* OR 뤼터
  - id: peskov
    name: Dmitry Peskov
    query: peskov OR песков*
feeds:
  - name: Wire
    url: {feed_url}
"""


@dataclass
class Bot:
    """A running bot (in this event loop) and what the tests drive."""

    rt: Runtime
    dl: DeliveryRuntime
    api: BotAPI
    server: FeedServer

    @property
    def db(self) -> AsyncDB:
        return self.rt.ctx.db

    async def poll(self) -> None:
        feed = self.rt.config.feeds[0]
        await poll_feed(self.rt.ctx, feed, self.rt.feed_ids[feed.source])

    async def command(self, chat_id: int, text: str, **kw: object) -> str:
        """Send a command as a user and return the bot's reply."""
        before = len(self.api.messages(chat_id))
        self.api.user_sends(chat_id, text, **kw)  # type: ignore[arg-type]
        await until(lambda: len(self.api.messages(chat_id)) > before)
        return self.api.messages(chat_id)[-1].text

    async def drain_all(self, rounds: int = 200) -> None:
        """Drain until nothing is pending (retries included)."""
        for _ in range(rounds):
            await self.dl.outbox.drain()
            if not (await self.db.run(outbox_counts)).get("pending"):
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"outbox not drained: {await self.db.run(outbox_counts)}")


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait (without blocking the loop) until predicate() holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


@asynccontextmanager
async def running_bot(settings: Settings, server: FeedServer, api: BotAPI, policy: OutboxPolicy = FAST) -> AsyncIterator[Bot]:
    url = server.url("/wire.xml")
    if "/wire.xml" not in server.routes:
        server.set("/wire.xml", body=rss([]))
    config = parse_config(config_text(url), settings.config_path)
    settings = replace(settings, bot_token="123:TEST", api_url=api.base_url, admin_ids=(ADMIN,))
    async with open_runtime(settings, config) as rt, open_delivery(rt, io.StringIO(), policy) as dl:
        yield Bot(rt, dl, api, server)


def story(n: int, title: str) -> dict[str, str]:
    return {"title": title, "link": f"https://news.example/{n}", "guid": str(n), "pubDate": "Mon, 21 Oct 2024 10:00:00 GMT"}


async def add_subscribers(bot: Bot, chat_ids: list[int], topic: str = "rutte") -> None:
    for chat_id in chat_ids:
        await bot.db.run(start_subscriber, chat_id, None, "private", None, utcnow())
        await bot.db.run(subscribe, chat_id, [topic])


async def test_start_subscribe_then_exactly_one_alert(settings: Settings, server: FeedServer, botapi: BotAPI) -> None:
    async with running_bot(settings, server, botapi) as bot:
        assert [c["command"] for c in botapi.state.commands][:3] == ["start", "topics", "subscribe"]
        welcome = await bot.command(111, "/start")
        assert "Welcome" in welcome and "rutte" in welcome and "Mark Rutte" in welcome
        reply = await bot.command(111, "/subscribe rutte")
        assert "Now following: Mark Rutte" in reply
        server.set("/wire.xml", body=rss([story(1, "Rutte: 5 &lt; 7 &amp; 9 &gt; 3"), story(2, "Peskov comments")]))
        await bot.poll()
        await bot.drain_all()
        await bot.poll()
        await bot.drain_all()
        alerts = botapi.messages(111)[2:]
        assert len(alerts) == 1
        alert = alerts[0]
        assert alert.parse_mode == "HTML"
        assert alert.text.startswith("🔔 <b>Mark Rutte</b>\n")
        assert '<a href="https://news.example/1">Rutte: 5 &lt; 7 &amp; 9 &gt; 3</a>' in alert.text
        assert alert.text.endswith("\nWire · 21 Oct 2024 10:00 (UTC)")  # not this year: the year shows
        assert (await bot.db.run(outbox_counts)) == {"sent": 1}


async def test_digest_mode_sends_one_digest_at_its_time(settings: Settings, server: FeedServer, botapi: BotAPI) -> None:
    async with running_bot(settings, server, botapi) as bot:
        await bot.command(222, "/start")
        await bot.command(222, "/subscribe rutte peskov")
        assert "Europe/Kyiv" in await bot.command(222, "/timezone europe/kyiv")
        reply = await bot.command(222, "/digest 08:00")
        assert "Digests at 08:00 (Europe/Kyiv)" in reply
        server.set("/wire.xml", body=rss([story(1, "Rutte in Kyiv"), story(2, "Peskov denies"), story(3, "Рютте прибув")]))
        await bot.poll()
        await bot.dl.outbox.drain()
        assert len(botapi.messages(222)) == 4  # replies only: a digest chat gets no alerts
        sub = await bot.db.run(get_subscriber, 222)
        assert sub is not None and sub.next_digest_at is not None
        assert sub.next_digest_at.astimezone(UTC).minute == 0
        assert await bot.dl.outbox.send_digests(sub.next_digest_at - timedelta(minutes=1)) == 0
        assert await bot.dl.outbox.send_digests(sub.next_digest_at + timedelta(seconds=5)) == 1
        digest = botapi.messages(222)[-1]
        assert digest.preview_disabled and digest.text.startswith("📰 <b>Digest</b>")
        assert digest.text.index("<b>Mark Rutte</b> (2)") < digest.text.index("<b>Dmitry Peskov</b> (1)")
        after = await bot.db.run(get_subscriber, 222)
        assert after is not None and after.next_digest_at == sub.next_digest_at + timedelta(days=1)
        assert await bot.dl.outbox.send_digests(sub.next_digest_at + timedelta(hours=1)) == 0  # nothing twice


async def test_digest_due_while_down_is_sent_on_start(settings: Settings, server: FeedServer, botapi: BotAPI) -> None:
    async with running_bot(settings, server, botapi) as bot:
        await bot.command(223, "/subscribe rutte")
        await bot.command(223, "/digest 08:00")
        server.set("/wire.xml", body=rss([story(1, "Rutte in Kyiv")]))
        await bot.poll()
    async with running_bot(settings, server, botapi) as bot:  # "later": the due time passed while stopped
        sub = await bot.db.run(get_subscriber, 223)
        assert sub is not None and sub.next_digest_at is not None
        await bot.dl.outbox.send_digests(sub.next_digest_at + timedelta(hours=5))
        assert "Rutte in Kyiv" in botapi.messages(223)[-1].text


async def test_429_storm_500s_and_drops_lose_nothing_and_send_nothing_twice(
    settings: Settings, server: FeedServer, botapi: BotAPI
) -> None:
    async with running_bot(settings, server, botapi) as bot:
        chats = list(range(1000, 1030))
        await add_subscribers(bot, chats)
        server.set("/wire.xml", body=rss([story(1, "Rutte meets Zelensky")]))
        botapi.fail_next(
            *[Fault("429", retry_after=1)] * 4, *[Fault("500")] * 4, *[Fault("drop")] * 3, *[Fault("429", retry_after=1)] * 2
        )
        await bot.poll()
        await bot.drain_all()
        per_chat = Counter(m.chat_id for m in botapi.messages())
        assert per_chat == Counter({c: 1 for c in chats})
        assert (await bot.db.run(outbox_counts)) == {"sent": 30}
        assert botapi.state.calls["sendMessage"] == 30 + 13


async def test_blocked_user_is_deactivated_and_not_retried(settings: Settings, server: FeedServer, botapi: BotAPI) -> None:
    async with running_bot(settings, server, botapi) as bot:
        await add_subscribers(bot, [301, 302])
        botapi.state.blocked.add(301)
        server.set("/wire.xml", body=rss([story(1, "Rutte speaks"), story(2, "Rutte again")]))
        await bot.poll()
        await bot.drain_all()
        sub = await bot.db.run(get_subscriber, 301)
        assert sub is not None and not sub.active and "blocked" in (sub.blocked_reason or "")
        assert len(botapi.messages(302)) == 2
        calls = botapi.state.calls["sendMessage"]
        server.set("/wire.xml", body=rss([story(3, "Rutte once more")]))
        await bot.poll()
        await bot.drain_all()
        assert botapi.state.calls["sendMessage"] == calls + 1  # only 302
        assert (await bot.db.run(outbox_counts)) == {"sent": 3, "cancelled": 2}


async def test_migrated_group_moves_subscriber_and_gets_the_alert(settings: Settings, server: FeedServer, botapi: BotAPI) -> None:
    async with running_bot(settings, server, botapi) as bot:
        await bot.db.run(start_subscriber, -500, None, "group", "G", utcnow())
        await bot.db.run(subscribe, -500, ["rutte"])
        botapi.state.migrated[-500] = -100500
        server.set("/wire.xml", body=rss([story(1, "Rutte in Vilnius")]))
        await bot.poll()
        await bot.drain_all()
        assert await bot.db.run(get_subscriber, -500) is None
        moved = await bot.db.run(get_subscriber, -100500)
        assert moved is not None and await bot.db.run(topics_of, -100500) == ["rutte"]
        assert len(botapi.messages(-100500)) == 1


async def test_rejected_html_is_resent_as_plain_text(settings: Settings, server: FeedServer, botapi: BotAPI) -> None:
    async with running_bot(settings, server, botapi) as bot:
        await add_subscribers(bot, [401])
        botapi.fail_next(Fault("badhtml"))
        server.set("/wire.xml", body=rss([story(1, "Rutte &amp; 5 &lt; 7")]))
        await bot.poll()
        await bot.drain_all()
        (msg,) = botapi.messages(401)
        assert msg.parse_mode is None and "Rutte & 5 < 7 — https://news.example/1" in msg.text


async def test_persistent_errors_end_failed_and_admins_are_told(settings: Settings, server: FeedServer, botapi: BotAPI) -> None:
    async with running_bot(settings, server, botapi, replace(FAST, max_attempts=3)) as bot:
        await add_subscribers(bot, [501])
        botapi.fail_next(*[Fault("500")] * 3)
        server.set("/wire.xml", body=rss([story(1, "Rutte speaks")]))
        await bot.poll()
        await bot.drain_all()
        assert (await bot.db.run(outbox_counts)) == {"failed": 1}
        (notice,) = botapi.messages(ADMIN)
        assert "chat 501 failed after 3 attempts" in notice.text


async def test_burst_collapses_into_one_summary(settings: Settings, server: FeedServer, botapi: BotAPI) -> None:
    async with running_bot(settings, server, botapi) as bot:
        await add_subscribers(bot, [601])
        server.set("/wire.xml", body=rss([story(i, f"Rutte update {i}") for i in range(8)]))
        await bot.poll()
        await bot.drain_all()
        (summary,) = botapi.messages(601)
        assert summary.text.startswith("🔔 <b>8 new stories</b> · Mark Rutte")
        assert summary.text.count("Rutte update") == 8
        assert (await bot.db.run(outbox_counts)) == {"sent": 8}


async def test_private_chat_is_paced(settings: Settings, server: FeedServer, botapi: BotAPI) -> None:
    async with running_bot(settings, server, botapi, replace(FAST, private_gap_s=0.3)) as bot:
        await add_subscribers(bot, [602])
        server.set("/wire.xml", body=rss([story(i, f"Rutte update {i}") for i in range(3)]))
        await bot.poll()
        await bot.drain_all()
        times = [m.at for m in botapi.messages(602)]
        assert len(times) == 3 and all(b - a >= 0.29 for a, b in itertools.pairwise(times))


async def test_group_settings_need_an_admin_and_forum_thread_is_kept(
    settings: Settings, server: FeedServer, botapi: BotAPI
) -> None:
    async with running_bot(settings, server, botapi) as bot:
        group = -700
        botapi.state.admins[group] = {77}
        refused = await bot.command(group, "/start", user_id=78, chat_type="supergroup", thread_id=5)
        assert "Only this group's administrators" in refused
        assert await bot.db.run(get_subscriber, group) is None
        await bot.command(group, "/start", user_id=77, chat_type="supergroup", thread_id=5)
        await bot.command(group, "/subscribe rutte", user_id=77, chat_type="supergroup", thread_id=5)
        assert botapi.messages(group)[-1].thread_id == 5
        server.set("/wire.xml", body=rss([story(1, "Rutte in a forum")]))
        await bot.poll()
        await bot.drain_all()
        alert = botapi.messages(group)[-1]
        assert "Rutte in a forum" in alert.text and alert.thread_id == 5
        status = await bot.command(group, "/status", user_id=78, chat_type="supergroup", thread_id=5)
        assert "Following: Mark Rutte" in status  # anyone may look


async def test_topic_buttons_follow_and_unfollow(settings: Settings, server: FeedServer, botapi: BotAPI) -> None:
    async with running_bot(settings, server, botapi) as bot:
        await bot.command(801, "/start")
        text = await bot.command(801, "/topics")
        msg = botapi.messages(801)[-1]
        assert "▫️ <code>rutte</code>" in text and msg.reply_markup is not None
        datas = [row[0]["callback_data"] for row in msg.reply_markup["inline_keyboard"]]
        assert datas == ["topic:rutte", "topic:peskov"]
        botapi.press_button(801, msg.message_id, "topic:rutte")
        await until(lambda: bool(botapi.messages(801, "editMessageText")))
        edited = botapi.messages(801, "editMessageText")[-1]
        assert "✅ <code>rutte</code>" in edited.text
        assert botapi.state.callback_answers[-1]["text"] == "Following Mark Rutte"
        assert await bot.db.run(topics_of, 801) == ["rutte"]


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/timezone Mars/Base", "Unknown time zone <code>Mars/Base</code>"),
        ("/timezone Europe/Kiev2", "Did you mean"),
        ("/timezone", "Give an IANA time zone name"),
        ("/digest 25:00", "'25:00' is not a time of day like 08:00"),
        ("/digest", "Give one or more times of day"),
        ("/mode loud", "Use <code>/mode instant</code>"),
        ("/subscribe nato", "Unknown topic <code>nato</code>"),
        ("/subscribe", "Which topics?"),
        ("/frobnicate now", "I don't know /frobnicate"),
    ],
)
async def test_bad_commands_get_helpful_replies(
    settings: Settings, server: FeedServer, botapi: BotAPI, command: str, expected: str
) -> None:
    async with running_bot(settings, server, botapi) as bot:
        await bot.command(901, "/start")
        assert expected in await bot.command(901, command)


async def test_commands_before_start_and_stop_forgets(settings: Settings, server: FeedServer, botapi: BotAPI) -> None:
    async with running_bot(settings, server, botapi) as bot:
        assert "Send /start first" in await bot.command(902, "/status")
        assert "Send /start first" in await bot.command(902, "/mode digest")
        await bot.command(902, "/subscribe rutte")  # subscribing starts the chat
        assert "Paused" in await bot.command(902, "/pause")
        server.set("/wire.xml", body=rss([story(1, "Rutte while paused")]))
        await bot.poll()
        await bot.drain_all()
        assert "Resumed" in await bot.command(902, "/resume")
        assert "Unsubscribed" in await bot.command(902, "/stop")
        assert await bot.db.run(get_subscriber, 902) is None
        assert not any("while paused" in m.text for m in botapi.messages(902))
        help_text = await bot.command(902, "/help")
        assert "/digest" in help_text and "/timezone" in help_text


async def test_mode_switch_moves_pending_alerts_into_the_digest(settings: Settings, server: FeedServer, botapi: BotAPI) -> None:
    async with running_bot(settings, server, botapi) as bot:
        await bot.command(903, "/subscribe rutte")
        server.set("/wire.xml", body=rss([story(1, "Rutte pending")]))
        await bot.poll()  # queued as an alert, not drained yet
        await bot.command(903, "/mode digest")
        await bot.dl.outbox.drain()
        assert not any("Rutte pending" in m.text for m in botapi.messages(903))
        sub = await bot.db.run(get_subscriber, 903)
        assert sub is not None and sub.next_digest_at is not None
        await bot.dl.outbox.send_digests(sub.next_digest_at)
        assert "Rutte pending" in botapi.messages(903)[-1].text


def test_emulator_counts_a_sliding_second() -> None:
    from tests.botapi import max_per_second

    assert max_per_second([0.0, 0.5, 0.99, 1.0, 1.5, 3.0]) == 3
    assert max_per_second([]) == 0


async def test_bot_wide_rate_stays_under_the_limit(settings: Settings, server: FeedServer, botapi: BotAPI) -> None:
    from tests.botapi import max_per_second

    async with running_bot(settings, server, botapi, replace(FAST, max_per_second=12)) as bot:
        await add_subscribers(bot, list(range(7000, 7030)))
        server.set("/wire.xml", body=rss([story(1, "Rutte everywhere")]))
        await bot.poll()
        await bot.drain_all()
        times = sorted(m.at for m in botapi.messages())
        assert len(times) == 30
        assert max_per_second(times) <= 12
