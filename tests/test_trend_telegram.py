"""/trend, /surge and surge alerts with the real python-telegram-bot client against the Bot API emulator."""

from __future__ import annotations

import asyncio
import io
from datetime import datetime, timedelta

from PIL import Image

from bot.app import open_delivery
from bot.config import Settings, parse_config
from bot.runtime import open_runtime
from bot.trends.chart import HEIGHT, WIDTH
from storage.db import utcnow
from storage.surges import surge_delivery_counts
from storage.watches import add_watch
from tests.botapi import BotAPI, Fault, Sent
from tests.feedserver import FeedServer, rss
from tests.test_telegram import FAST, Bot, config_text, running_bot, until
from tests.trendfeeds import history, item, spike


def png_size(sent: Sent) -> tuple[int, int]:
    assert sent.photo is not None
    image = Image.open(io.BytesIO(sent.photo))
    assert image.format == "PNG"
    image.load()  # decodes every pixel: a truncated file fails here
    return image.size


async def seed_history(bot: Bot, now: datetime) -> None:
    """The bot has run for 8 days (its first poll then found one item); the feed now carries 4 stories
    about Rutte a day for those 8 days."""
    bot.server.set("/wire.xml", body=rss([item(0, "Rutte", now - timedelta(days=8, hours=1))]))
    bot.rt.ctx.clock = lambda: now - timedelta(days=8)
    await bot.poll()
    bot.rt.ctx.clock = utcnow
    bot.server.set("/wire.xml", body=rss(history(now, "Rutte", days=8, per_day=4, start=1)))
    await bot.poll()


async def test_trend_answers_with_a_chart_photo(settings: Settings, server: FeedServer, botapi: BotAPI) -> None:
    now = utcnow()
    async with running_bot(settings, server, botapi) as bot:
        server.set("/wire.xml", body=rss(history(now, "Rutte", days=8, per_day=4) + spike(now, "Rutte", 12, start=1000)))
        await bot.poll()
        botapi.user_sends(301, "/trend rutte 7d")
        await until(lambda: bool(botapi.messages(301, "sendPhoto")), timeout=60)
        (photo,) = botapi.messages(301, "sendPhoto")
        assert png_size(photo) == (WIDTH, HEIGHT)
        assert photo.parse_mode == "HTML"
        lines = photo.text.split("\n")
        assert lines[0] == "<b>Mark Rutte</b>: 39 stories in 7 days (UTC)"  # 3 + 6 x 4 of the history, 12 of the spike
        assert lines[1].startswith("Peak ") and lines[1].endswith("Top:")
        assert len(lines) == 5 and all(line.startswith('• <a href="https://news.example/1') for line in lines[2:])

        await bot.command(302, "/start")
        await bot.command(302, "/timezone Asia/Seoul")
        botapi.user_sends(302, "/trend Mark Rutte 30d")
        await until(lambda: bool(botapi.messages(302, "sendPhoto")), timeout=60)
        (photo,) = botapi.messages(302, "sendPhoto")
        assert photo.text.startswith("<b>Mark Rutte</b>: 44 stories in 30 days (Asia/Seoul)")
        assert png_size(photo) == (WIDTH, HEIGHT)

        assert "No topic or watch nobody" in await bot.command(301, "/trend nobody")
        assert "is not a period" in await bot.command(301, "/trend rutte 12d")
        assert (await bot.command(301, "/trend")).startswith("Usage: /trend topic")
        assert len(botapi.messages(301, "sendPhoto")) == 1


async def test_surge_on_off_replies(settings: Settings, server: FeedServer, botapi: BotAPI) -> None:
    async with running_bot(settings, server, botapi) as bot:
        assert "Send /start first" in await bot.command(401, "/surge on")
        await bot.command(401, "/start")
        assert await bot.command(401, "/surge") == "Usage: /surge on or /surge off (now: off)."
        assert (await bot.command(401, "/surge on")).startswith("Surge alerts on")
        assert await bot.command(401, "/surge maybe") == "Usage: /surge on or /surge off (now: on)."
        assert await bot.command(401, "/surge off") == "Surge alerts off."
        botapi.state.admins[-4001] = {4002}
        await bot.command(-4001, "/start", user_id=4002, chat_type="supergroup")
        refused = await bot.command(-4001, "/surge on", user_id=4003, chat_type="supergroup")
        assert refused == "Only this group's administrators can change its settings."


async def test_one_surge_alert_for_an_opted_in_chat_none_for_the_others(
    settings: Settings, server: FeedServer, botapi: BotAPI
) -> None:
    now = utcnow()
    async with running_bot(settings, server, botapi) as bot:
        for chat in (501, 502):
            await bot.command(chat, "/start")
            await bot.command(chat, "/subscribe rutte")
        await bot.command(501, "/surge on")
        await seed_history(bot, now)
        assert await bot.dl.watcher.check() == 0  # the usual volume: no surge
        server.set("/wire.xml", body=rss(history(now, "Rutte", days=8, per_day=4, start=1) + spike(now, "Rutte", 12, start=1000)))
        await bot.poll()
        assert await bot.dl.watcher.check() == 1  # one alert queued, for chat 501
        assert await bot.dl.watcher.check() == 0  # still surging: nothing new
    # stopped before sending: the alert waits in SQLite; a restarted bot neither loses nor repeats it
    async with running_bot(settings, server, botapi) as bot:
        assert await bot.dl.watcher.check() == 0
        botapi.fail_next(Fault("500"))  # the first try fails: retried, not lost
        assert await bot.dl.surges.drain() == 0
        sent = 0
        for _ in range(100):  # the retry is due after FAST's 0.05 s back-off
            sent = await bot.dl.surges.drain()
            if sent:
                break
            await asyncio.sleep(0.05)
        assert sent == 1
        assert await bot.dl.surges.drain() == 0
        assert await bot.dl.watcher.check() == 0
        assert await bot.db.run(surge_delivery_counts) == {"sent": 1}
    photos = botapi.messages(501, "sendPhoto")
    assert len(photos) == 1 and botapi.messages(502, "sendPhoto") == []
    assert photos[0].text.startswith("🔺 <b>Mark Rutte</b>: 12 stories in the last 3 h, usually 1 — top:\n• <a href=")
    assert png_size(photos[0]) == (WIDTH, HEIGHT)


async def test_trend_and_surge_for_a_personal_watch(settings: Settings, server: FeedServer, botapi: BotAPI) -> None:
    now = utcnow()
    async with running_bot(settings, server, botapi) as bot:
        await bot.command(601, "/start")
        await bot.command(601, "/surge on")
        watch = await bot.db.run(add_watch, 601, "nato chief", "rutte", now, 20)
        assert watch is not None
        await seed_history(bot, now)
        assert await bot.dl.watcher.check() == 0
        server.set("/wire.xml", body=rss(history(now, "Rutte", days=8, per_day=4, start=1) + spike(now, "Rutte", 12, start=1000)))
        await bot.poll()
        assert await bot.dl.watcher.check() == 1  # the watch's surge, for its chat (the topic's has no opted-in follower)
        assert await bot.dl.surges.drain() == 1
        (alert,) = botapi.messages(601, "sendPhoto")
        assert alert.text.startswith("🔺 <b>🔎 nato chief</b>: 12 stories in the last 3 h, usually 1 — top:\n")
        botapi.user_sends(601, "/trend nato chief 7d")
        await until(lambda: len(botapi.messages(601, "sendPhoto")) == 2, timeout=60)
        chart = botapi.messages(601, "sendPhoto")[-1]
        assert chart.text.startswith("<b>🔎 nato chief</b>: 39 stories in 7 days (UTC)")
        assert png_size(chart) == (WIDTH, HEIGHT)
        assert "No topic or watch nato chief" in await bot.command(602, "/trend nato chief")  # another chat's watch


async def test_without_a_token_the_console_prints_surges(settings: Settings, server: FeedServer) -> None:
    now = utcnow()
    url = server.set("/wire.xml", body=rss([]))
    config = parse_config(config_text(url), settings.config_path)
    out = io.StringIO()
    async with open_runtime(settings, config) as rt, open_delivery(rt, out, FAST) as dl:
        bot = Bot(rt, dl, None, server)  # type: ignore[arg-type]  # no Bot API: the console delivers
        await seed_history(bot, now)
        server.set("/wire.xml", body=rss(history(now, "Rutte", days=8, per_day=4, start=1) + spike(now, "Rutte", 12, start=1000)))
        await bot.poll()
        assert await dl.watcher.check() == 1  # the console chat follows every topic and is opted in
        assert await dl.surges.drain() == 1
    printed = out.getvalue()
    assert "🔺 Mark Rutte: 12 stories in the last 3 h, usually 1 — top:\n• Rutte " in printed
    assert "[chart: PNG, " in printed
