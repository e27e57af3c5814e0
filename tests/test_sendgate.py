"""The send gate under every Telegram call, and concurrent update handling, end to end: the real
python-telegram-bot client against the Bot API emulator, which records when each request arrived."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from telegram import Chat, Message, Update

from bot.config import Settings
from bot.delivery.gate import SendGate, SendLimits
from bot.errors import SendFailed
from bot.telegram.flow import PerChatUpdateProcessor
from storage.db import utcnow
from storage.outbox import outbox_counts
from storage.subscribers import start_subscriber, subscribe
from tests.botapi import BotAPI, Fault, most_in_window
from tests.feedserver import FeedServer, rss
from tests.test_telegram import FAST, add_subscribers, running_bot, story, until


def requests_between(api: BotAPI, start: float, end: float) -> list[str]:
    """Every request but long polling that reached the emulator strictly between start and end."""
    return [
        f"{r.method} {r.chat_id} +{r.at - start:.3f} s"
        for r in api.state.requests
        if r.method != "getUpdates" and start < r.at < end
    ]


async def test_a_flood_wait_holds_every_call_queued_sends_and_replies_alike(
    settings: Settings, server: FeedServer, botapi: BotAPI
) -> None:
    async with running_bot(settings, server, botapi, replace(FAST, private_gap_s=1.0)) as bot:
        first, queued, user, group = 1001, 1002, 1003, -1004
        await add_subscribers(bot, [first, queued])
        server.set("/wire.xml", body=rss([story(1, "Rutte meets Zelensky")]))
        await bot.poll()
        await bot.command(queued, "/status")  # `queued` must now wait 1 s for its next message
        botapi.fail_next(Fault("429", retry_after=3))
        drain = asyncio.create_task(bot.drain_all())
        await until(lambda: bool(botapi.state.floods))
        flood_at, wait = botapi.state.floods[0]
        botapi.user_sends(user, "/status")  # a private reply asked for inside the window
        botapi.user_sends(group, "/help", user_id=1005, chat_type="supergroup")
        await drain
        await until(lambda: len(botapi.messages(user)) == 1 and len(botapi.messages(group)) == 1)
        assert requests_between(botapi, flood_at, flood_at + wait) == []
        assert [len(botapi.messages(c)) for c in (first, queued)] == [1, 2]  # nothing lost
        assert (await bot.db.run(outbox_counts)) == {"sent": 2}
        late = [m.at - flood_at for m in botapi.messages() if m.at > flood_at]
        assert len(late) == 4 and min(late) >= wait


async def test_a_reply_answered_429_waits_and_is_sent(settings: Settings, server: FeedServer, botapi: BotAPI) -> None:
    async with running_bot(settings, server, botapi) as bot:
        botapi.fail_next(Fault("429", retry_after=2))
        asked = time.monotonic()
        assert "This chat is not subscribed yet" in await bot.command(1101, "/status")
        (reply,) = botapi.messages(1101)
        assert reply.at - asked >= 2.0
        assert botapi.state.calls["sendMessage"] == 2


async def test_a_group_gets_its_per_minute_limit_and_a_private_chat_does_not_wait_behind_it(
    settings: Settings, server: FeedServer, botapi: BotAPI
) -> None:
    policy = replace(FAST, group_limit=10, group_window_s=1.5, group_gap_s=0.0)
    async with running_bot(settings, server, botapi, policy):
        group, user = -1201, 1202
        for i in range(30):
            botapi.user_sends(group, f"/ask{i:02d}", user_id=1203, chat_type="supergroup")
        await until(lambda: len(botapi.messages(group)) >= 10)
        asked = time.monotonic()
        botapi.user_sends(user, "/status")
        await until(lambda: len(botapi.messages(user)) == 1)
        latency = botapi.messages(user)[0].at - asked
        waiting = 30 - len(botapi.messages(group))
        await until(lambda: len(botapi.messages(group)) == 30, 15)
        replies = botapi.messages(group)
        assert latency < 0.5 and waiting >= 10
        assert most_in_window([m.at for m in replies], 1.5) <= 10
        assert [m.text.split()[3] for m in replies] == [f"/ask{i:02d}." for i in range(30)]  # in the order asked


async def test_group_alerts_and_replies_share_the_group_limit(settings: Settings, server: FeedServer, botapi: BotAPI) -> None:
    policy = replace(FAST, group_limit=3, group_window_s=1.0, group_gap_s=0.0, burst_limit=10)
    async with running_bot(settings, server, botapi, policy) as bot:
        group = -1301
        await bot.db.run(start_subscriber, group, None, "group", "G", utcnow())
        await bot.db.run(subscribe, group, ["rutte"])
        server.set("/wire.xml", body=rss([story(i, f"Rutte update {i}") for i in range(4)]))
        await bot.poll()
        for i in range(3):
            botapi.user_sends(group, f"/ask{i}", user_id=1302, chat_type="supergroup")
        await bot.drain_all()
        await until(lambda: len(botapi.messages(group)) == 7)
        assert most_in_window(sorted(m.at for m in botapi.messages(group)), 1.0) <= 3


@pytest.mark.parametrize(
    ("limits", "chats", "sends", "window", "most"),
    [
        (SendLimits(private_gap_s=0.2), [7], 4, 0.2, 1),  # one private chat: one a gap
        (SendLimits(group_gap_s=0.0, group_limit=3, group_window_s=0.5), [-7], 7, 0.5, 3),
        (SendLimits(private_gap_s=0.0, max_per_second=5), list(range(1, 13)), 12, 1.0, 5),
    ],
)
async def test_gate_keeps_each_window(limits: SendLimits, chats: list[int], sends: int, window: float, most: int) -> None:
    gate = SendGate(limits)
    starts: list[float] = []

    async def call(chat: int) -> None:
        async with gate.turn(chat, message=True):
            starts.append(time.monotonic())
            await asyncio.sleep(0.001)

    await asyncio.gather(*(call(chats[i % len(chats)]) for i in range(sends)))
    assert len(starts) == sends
    assert most_in_window(sorted(starts), window - 0.01) <= most


async def test_gate_hold_is_seen_by_a_call_already_waiting_and_close_bounds_the_wait() -> None:
    gate = SendGate(SendLimits(private_gap_s=0.3))
    async with gate.turn(9, message=True):
        pass
    started: list[float] = []

    async def call() -> None:
        async with gate.turn(9, message=True):
            started.append(time.monotonic())

    waiting = asyncio.create_task(call())
    await asyncio.sleep(0.1)  # it waits for the per-chat gap ...
    held_at = time.monotonic()
    gate.hold(0.6)  # ... when a 429 arrives elsewhere
    await waiting
    assert started[0] - held_at >= 0.6
    gate.close(grace_s=1.0)
    async with gate.turn(9, message=True):  # a per-chat gap shorter than the grace still goes
        pass
    gate.hold(30)
    with pytest.raises(SendFailed, match="stopping"):
        async with gate.turn(None, message=False):
            pass


async def test_update_processor_keeps_chat_order_runs_chats_together_and_bounds_a_queue() -> None:
    def update(n: int, chat: int) -> Update:
        return Update(n, message=Message(n, datetime.now(UTC), Chat(chat, "group"), text=f"/{n}"))

    done: list[tuple[int, int]] = []

    async def handle(n: int, chat: int, seconds: float) -> None:
        await asyncio.sleep(seconds)
        done.append((chat, n))

    processor = PerChatUpdateProcessor(max_queued=3)
    jobs = [(1, -5, 0.2), (2, -5, 0.1), (3, -5, 0.0), (4, -5, 0.0), (5, 7, 0.0)]
    await asyncio.gather(*(processor.process_update(update(n, c), handle(n, c, s)) for n, c, s in jobs))
    assert done == [(7, 5), (-5, 1), (-5, 2), (-5, 3)]  # chat 7 did not wait; -5 in order; its 4th skipped


async def test_a_restarted_bot_waits_out_the_flood_hold_the_one_before_was_given(
    settings: Settings, server: FeedServer, botapi: BotAPI
) -> None:
    async with running_bot(settings, server, botapi):
        botapi.fail_next(Fault("429", retry_after=3))
        botapi.user_sends(1403, "/status")
        await until(lambda: bool(botapi.state.floods))  # stopped inside the window: the reply is given up
    flood_at, wait = botapi.state.floods[0]
    assert time.monotonic() < flood_at + wait - 1.0
    async with running_bot(settings, server, botapi) as bot:  # the next process, on the same database
        await bot.command(1403, "/status")
    assert requests_between(botapi, flood_at, flood_at + wait) == []
    restarted = [r.at for r in botapi.state.requests if r.method == "getMe" and r.at > flood_at]
    assert len(restarted) == 1 and restarted[0] >= flood_at + wait  # its very first call waited


async def test_a_restarted_bot_keeps_the_group_window_of_the_one_before(
    settings: Settings, server: FeedServer, botapi: BotAPI
) -> None:
    policy = replace(FAST, group_limit=3, group_window_s=3.0, group_gap_s=0.0)
    group = -1401
    async with running_bot(settings, server, botapi, policy) as bot:
        for i in range(3):
            await bot.command(group, f"/help{i}", user_id=1402, chat_type="supergroup")  # the window is full
    async with running_bot(settings, server, botapi, policy) as bot:
        await bot.command(group, "/help", user_id=1402, chat_type="supergroup")
    times = [m.at for m in botapi.messages(group)]
    assert len(times) == 4 and times[3] - times[0] >= 3.0  # the 4th waited until the first stopped counting


async def test_the_send_log_forgets_what_has_ended(settings: Settings) -> None:
    from storage.db import open_database
    from storage.sendlog import load_send_windows, record_send_window

    db = open_database(settings.db_path)
    record_send_window(db, None, 105.0, 100.0)
    record_send_window(db, "-5", 101.0, 100.0)
    record_send_window(db, "-5", 160.0, 100.0)
    assert load_send_windows(db, 100.0) == (105.0, {"-5": [101.0, 160.0]})
    assert load_send_windows(db, 102.0) == (105.0, {"-5": [160.0]})
    record_send_window(db, "-6", 170.0, 106.0)  # a write prunes the rows that ended
    assert db.execute("SELECT count(*) FROM send_windows").fetchone()[0] == 2
    assert load_send_windows(db, 106.0) == (0.0, {"-5": [160.0], "-6": [170.0]})
    db.close()
