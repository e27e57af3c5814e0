"""Personal watches through the real bot and the Bot API emulator: /watch, /watches, /unwatch, alerts."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from bot.admin import AdminService
from bot.config import Settings
from bot.runtime import FileConfig
from storage.outbox import outbox_counts
from storage.subscribers import get_subscriber
from storage.watches import list_watches
from tests.botapi import BotAPI
from tests.feedserver import FeedServer, rss
from tests.test_telegram import ADMIN, Bot, running_bot, story, until

GROUP = -800
GROUP_ADMIN, MEMBER = 77, 78


async def replies(bot: Bot, chat_id: int, text: str, marker: str, **kw: object) -> list[str]:
    """Send a command; return the bot's messages up to and including the first that contains `marker`."""
    before = len(bot.api.messages(chat_id))
    bot.api.user_sends(chat_id, text, **kw)  # type: ignore[arg-type]
    await until(lambda: any(marker in m.text for m in bot.api.messages(chat_id)[before:]))
    sent = [m.text for m in bot.api.messages(chat_id)[before:]]
    return sent[: next(i for i, t in enumerate(sent) if marker in t) + 1]


async def test_watch_shows_recent_matches_then_one_alert_per_story(
    settings: Settings, server: FeedServer, botapi: BotAPI
) -> None:
    async with running_bot(settings, server, botapi) as bot:
        server.set("/wire.xml", body=rss([story(1, "Shelling near Kursk overnight"), story(2, "Peskov comments")]))
        await bot.poll()  # two stored items before any watch
        answer = await replies(bot, 111, "/watch kursk: kursk OR курск*", "items match")
        assert "Watching <b>#" in answer[0] and "<b>kursk</b>: <code>kursk OR курск*</code>" in answer[0]
        assert "<b>1 of the last 2 items matches</b>" in answer[-1] and "Shelling near Kursk overnight" in answer[-1]
        assert await bot.db.run(outbox_counts) == {}  # what it would have matched is shown, never sent
        sent_before = len(botapi.messages(111))
        server.set(
            "/wire.xml",
            body=rss([story(3, "Troops reach Курске"), story(1, "Shelling near Kursk overnight"), story(2, "Peskov comments")]),
        )
        await bot.poll()
        await bot.drain_all()
        await bot.poll()
        await bot.drain_all()
        alerts = botapi.messages(111)[sent_before:]
        assert len(alerts) == 1
        assert alerts[0].text.startswith("🔔 <b>🔎 kursk</b>\n") and "Troops reach Курске" in alerts[0].text


async def test_story_hitting_a_followed_topic_and_a_watch_is_sent_once(
    settings: Settings, server: FeedServer, botapi: BotAPI
) -> None:
    async with running_bot(settings, server, botapi) as bot:
        await bot.command(112, "/start")
        await bot.command(112, "/subscribe rutte")
        await replies(bot, 112, "/watch rutte kursk", "items match")
        await replies(bot, 113, "/watch kursk", "items match")  # another chat, its own watch
        sent_before = {c: len(botapi.messages(c)) for c in (112, 113)}
        server.set("/wire.xml", body=rss([story(1, "Rutte visits Kursk"), story(2, "Rutte in Brussels")]))
        await bot.poll()
        await bot.drain_all()
        got = {c: [m.text for m in botapi.messages(c)[sent_before[c] :]] for c in (112, 113)}
        assert sorted(t.split("\n")[1] for t in got[112]) == [
            '<b><a href="https://news.example/1">Rutte visits Kursk</a></b>',
            '<b><a href="https://news.example/2">Rutte in Brussels</a></b>',
        ]  # one message per story: the Kursk story hit the topic and the watch
        assert len(got[113]) == 1 and "Rutte visits Kursk" in got[113][0] and "🔎 kursk" in got[113][0]


async def test_a_query_that_does_not_parse_gets_the_position(settings: Settings, server: FeedServer, botapi: BotAPI) -> None:
    async with running_bot(settings, server, botapi) as bot:
        unclosed = await bot.command(114, "/watch kursk OR (troops")
        assert "Not watched: missing ')' at position 10: kursk OR &gt;&gt;(troops" in unclosed
        dangling = await bot.command(114, "/watch kursk OR")
        assert "a term was expected at position 9" in dangling
        assert "at least one term that is not excluded" in await bot.command(114, "/watch -kursk")
        long_query = " OR ".join(f"word{i}" for i in range(120))
        assert "a watch takes at most 500" in await bot.command(114, f"/watch {long_query}")
        many = " OR ".join(f"w{i}" for i in range(25))
        assert "25 words and phrases; a watch takes at most 20" in await bot.command(114, f"/watch {many}")
        assert "Give a query to watch for" in await bot.command(114, "/watch")
        assert await bot.db.run(list_watches, 114) == []


async def test_cap_list_and_unwatch_by_name_or_id(settings: Settings, server: FeedServer, botapi: BotAPI) -> None:
    async with running_bot(replace(settings, max_watches=2), server, botapi) as bot:
        await replies(bot, 115, "/watch kursk: kursk", "items match")
        await replies(bot, 115, "/watch rutte NEAR/5 nato", "items match")
        assert "This chat has 2 watches, the most it may keep" in await bot.command(115, "/watch peskov")
        assert "already has a watch named <code>kursk</code>" in await bot.command(115, "/watch kursk: курск")
        first, second = await bot.db.run(list_watches, 115)
        listing = await bot.command(115, "/watches")
        assert f"<b>#{first.id}</b> <b>kursk</b>: <code>kursk</code> · 0 stories" in listing
        assert f"<b>#{second.id}</b> <code>rutte NEAR/5 nato</code> · 0 stories" in listing
        assert "Watches</b> (2 of 2)" in listing
        assert "no watch <code>nope</code>" in await bot.command(115, "/unwatch nope")
        assert f"Removed watch <b>#{first.id}</b>" in await bot.command(115, "/unwatch KURSK")
        assert f"Removed watch <b>#{second.id}</b>" in await bot.command(115, f"/unwatch {second.id}")
        assert "This chat has no watches" in await bot.command(115, "/watches")
        assert "Watching" in (await replies(bot, 115, "/watch peskov", "items match"))[0]  # room again


async def test_group_watches_are_changed_by_its_admins_only_and_seen_by_that_chat_only(
    settings: Settings, server: FeedServer, botapi: BotAPI
) -> None:
    async with running_bot(settings, server, botapi) as bot:
        botapi.state.admins[GROUP] = {GROUP_ADMIN}
        group = {"chat_type": "supergroup"}
        refused = await bot.command(GROUP, "/watch kursk", user_id=MEMBER, **group)
        assert refused == "Only this group's administrators can change its watches."
        assert await bot.db.run(list_watches, GROUP) == [] and await bot.db.run(get_subscriber, GROUP) is None
        await replies(bot, GROUP, "/watch kursk", "items match", user_id=GROUP_ADMIN, **group)
        (watch,) = await bot.db.run(list_watches, GROUP)
        assert f"#{watch.id}" in await bot.command(GROUP, "/watches", user_id=MEMBER, **group)  # anyone may look
        refused = await bot.command(GROUP, f"/unwatch {watch.id}", user_id=MEMBER, **group)
        assert "Only this group's administrators" in refused
        assert "This chat has no watches" in await bot.command(116, "/watches")  # another chat sees none
        assert "no watch" in await bot.command(116, f"/unwatch {watch.id}")  # nor removes it
        assert await bot.db.run(list_watches, GROUP) == [watch]
        assert bot.dl.telegram is not None  # the admin commands as `run` sets them up
        bot.dl.telegram.bot_data["admin"] = AdminService(bot.db, bot.rt.settings, FileConfig(bot.rt), None)
        stats = await bot.command(ADMIN, "/stats")
        assert "personal watches: 1 in 1 chats" in stats and "kursk" not in stats  # counts only
        server.set("/wire.xml", body=rss([story(1, "Kursk: the front moves")]))
        await bot.poll()
        await bot.drain_all()
        assert "Kursk: the front moves" in botapi.messages(GROUP)[-1].text


async def test_watches_survive_a_restart_and_stop_removes_them(settings: Settings, server: FeedServer, botapi: BotAPI) -> None:
    async with running_bot(settings, server, botapi) as bot:
        await replies(bot, 117, "/watch kursk: kursk", "items match")
        await replies(bot, 118, "/watch kursk", "items match")
    async with running_bot(settings, server, botapi) as bot:
        assert "<b>kursk</b>: <code>kursk</code>" in await bot.command(117, "/watches")
        assert "Unsubscribed" in await bot.command(118, "/stop")
        assert "This chat has no watches" in await bot.command(118, "/watches")
        before = {c: len(botapi.messages(c)) for c in (117, 118)}
        server.set("/wire.xml", body=rss([story(1, "Kursk after the restart")]))
        await bot.poll()
        await bot.drain_all()
        assert [m.text.split("\n")[0] for m in botapi.messages(117)[before[117] :]] == ["🔔 <b>🔎 kursk</b>"]
        assert botapi.messages(118)[before[118] :] == []


async def test_digest_groups_watches_like_topics(settings: Settings, server: FeedServer, botapi: BotAPI) -> None:
    async with running_bot(settings, server, botapi) as bot:
        await bot.command(119, "/start")
        await bot.command(119, "/subscribe rutte")
        await bot.command(119, "/digest 08:00")
        await replies(bot, 119, "/watch front: kursk OR курск*", "items match")
        before = len(botapi.messages(119))
        server.set("/wire.xml", body=rss([story(1, "Rutte in Kursk"), story(2, "Курская область"), story(3, "Kursk map")]))
        await bot.poll()
        await bot.dl.outbox.drain()
        assert len(botapi.messages(119)) == before  # digest mode: nothing until the digest
        sub = await bot.db.run(get_subscriber, 119)
        assert sub is not None and sub.next_digest_at is not None
        assert await bot.dl.outbox.send_digests(sub.next_digest_at + timedelta(seconds=5)) == 1
        digest = botapi.messages(119)[-1].text
        assert "<b>🔎 front</b> (2)" in digest and "<b>Mark Rutte</b> (1)" in digest
        assert digest.count("Rutte in Kursk") == 1
