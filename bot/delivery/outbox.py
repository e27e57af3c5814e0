"""Drain the outbox: instant alerts as they come, digests when they are due.

Rules, in the order they apply to a chat's due alerts:
1. A chat that got `burst_limit` alerts in the last `burst_window` waits until the window has passed.
2. More than `burst_limit` stories in the window go out as one summary message, not one each.
3. Each message waits for its turn at the send gate (bot/delivery/gate.py), which every Telegram call
   passes, command replies included: the flood hold, one message a second per chat, 20 a minute per
   group, `max_per_second` bot-wide. The policy's limits are the gate's (`send_limits`).
4. FloodWait (a 429 the gate did not retry) reschedules the deliveries for when Telegram said; it never
   drops or counts as a failure (the gate already holds every call). BadMarkup resends as plain text.
   ChatMoved moves the chat and resends. ChatGone deactivates the chat. SendFailed retries with
   exponential backoff; after `max_attempts` the deliveries are marked failed and the admins are told.
5. A burst or digest that says "+N more" keeps those stories as a story list and carries a button
   that opens it page by page (bot/pages.py), after a restart too.
6. After sending, a drain edits the alerts whose story has grown (bot/delivery/growth.py).
A delivery is marked sent only after the sender returned, so a crash at any point leaves it pending;
a send cut short because the bot is stopping stays pending without counting as an attempt.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.delivery.gate import SendLimits
from bot.delivery.growth import AlertGrowth
from bot.delivery.messages import More, more_data, render_alert, render_burst, render_digest
from bot.delivery.render import clip, html_to_plain
from bot.delivery.senders import Button, Sender
from bot.errors import BadMarkup, ChatGone, ChatMoved, FloodWait, SendError, SendFailed
from bot.models import Delivery, Subscriber
from bot.schedule_rules import next_digest_at
from storage.db import AsyncDB, utcnow
from storage.outbox import alerts_sent_since, due_alerts, mark_failed, mark_retry, mark_sent, pending_digest
from storage.story_lists import create_story_list
from storage.subscribers import deactivate_subscriber, due_digest_chats, get_subscriber, migrate_chat, update_subscriber

log = logging.getLogger(__name__)


async def drain_loop(
    what: str, drain: Callable[[], Awaitable[int]], wake: asyncio.Event, stop: asyncio.Event, idle_s: float
) -> None:
    """Call `drain` whenever `wake` is set, and every `idle_s` for retries that became due, until `stop`;
    a failing drain is logged and tried again, never ends the loop."""
    while not stop.is_set():
        try:
            await drain()
        except Exception:
            log.exception("%s: drain failed; retrying", what)
        wake.clear()
        waiter, stopper = asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())
        await asyncio.wait({waiter, stopper}, timeout=idle_s, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        stopper.cancel()


Notify = Callable[[str], Awaitable[None]]


@dataclass
class OutboxPolicy:
    """Limits the outbox keeps (defaults follow Telegram's published limits)."""

    burst_limit: int = 5
    burst_window_s: float = 60.0
    private_gap_s: float = 1.0  # the send gate's limits (see SendLimits) ...
    group_gap_s: float = 1.0
    group_limit: int = 20
    group_window_s: float = 60.0
    max_per_second: int = 25  # ... up to here
    max_attempts: int = 6
    retry_base_s: float = 30.0
    concurrency: int = 16
    digest_per_topic: int = 10
    idle_check_s: float = 2.0
    edit_gap_s: float = 300.0  # an alert is edited at most once in this long as its story grows ...
    edit_window_s: float = 2 * 86400.0  # ... and only while it is this recent
    edit_check_s: float = 30.0  # how often a drain looks for grown alerts (a scan of the window's alerts)

    def send_limits(self) -> SendLimits:
        """The limits the send gate keeps for every Telegram call."""
        return SendLimits(
            private_gap_s=self.private_gap_s,
            group_gap_s=self.group_gap_s,
            group_limit=self.group_limit,
            group_window_s=self.group_window_s,
            max_per_second=self.max_per_second,
        )


class Outbox:
    """Sends pending deliveries through a sender and records the outcome."""

    def __init__(
        self,
        db: AsyncDB,
        sender: Sender,
        topic_names: Callable[[], dict[str, str]],
        *,
        policy: OutboxPolicy | None = None,
        notify_admins: Notify | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db, self.sender, self.topic_names = db, sender, topic_names
        self.policy = policy or OutboxPolicy()
        self.notify_admins = notify_admins
        self.clock = clock
        self._wake = asyncio.Event()
        self._stopping = False
        self._chat_locks: dict[int, asyncio.Lock] = {}
        self._busy = asyncio.Lock()
        self.sent_messages = 0
        self.growth = AlertGrowth(db, sender, topic_names, self.policy, clock)

    def wake(self) -> None:
        """Ask the drain loop to look at the outbox now."""
        self._wake.set()

    def stop(self) -> None:
        """The bot is stopping: a send cut short from now on stays pending and is not counted as an attempt."""
        self._stopping = True

    async def run(self, stop: asyncio.Event) -> None:
        """Drain whenever woken, and every `idle_check_s` for retries that became due, until `stop`."""
        await drain_loop("outbox", self.drain, self._wake, stop, self.policy.idle_check_s)

    async def drain(self) -> int:
        """Send every alert that is due; return the number of messages sent."""
        async with self._busy:
            due = await self.db.run(due_alerts, self.clock())
            by_chat: dict[int, list[Delivery]] = {}
            for d in due:
                by_chat.setdefault(d.chat_id, []).append(d)
            before = self.sent_messages
            gate = asyncio.Semaphore(self.policy.concurrency)

            async def one(chat_id: int, items: list[Delivery]) -> None:
                async with gate:
                    await self._drain_chat(chat_id, items)

            await asyncio.gather(*(one(c, items) for c, items in by_chat.items()))
            await self.growth.edit_due()
            return self.sent_messages - before

    async def _drain_chat(self, chat_id: int, items: list[Delivery]) -> None:
        sub = await self.db.run(get_subscriber, chat_id)
        if sub is None or not sub.active:
            return
        now = self.clock()
        p = self.policy
        recent = await self.db.run(alerts_sent_since, chat_id, now - timedelta(seconds=p.burst_window_s))
        names = self.topic_names()
        if recent >= p.burst_limit:
            later = now + timedelta(seconds=p.burst_window_s)
            await self.db.run(mark_retry, [d.id for d in items], later, "burst: held for a summary", count_attempt=False)
            return
        if recent + len(items) > p.burst_limit and len(items) > 1:
            text, more = render_burst(items, names, sub.timezone, now)
            buttons = await self._more_buttons(sub.chat_id, [more] if more else [], now)
            await self._deliver(sub, items, text, preview=False, buttons=buttons, shown_as="burst")
            return
        for d in items:
            text = render_alert(d, names.get(d.topic, d.topic), sub.timezone, now)
            if not await self._deliver(sub, [d], text, preview=True, shown_as="alert"):
                return

    async def send_digests(self, now: datetime | None = None) -> int:
        """Send the digest of every chat whose digest time has come; return how many chats got one."""
        now = now or self.clock()
        chats = await self.db.run(due_digest_chats, now)
        gate = asyncio.Semaphore(self.policy.concurrency)

        async def one(sub: Subscriber) -> bool:
            async with gate:
                return await self._digest_chat(sub, now)

        return sum(await asyncio.gather(*(one(s) for s in chats)))

    async def _digest_chat(self, sub: Subscriber, now: datetime) -> bool:
        items = await self.db.run(pending_digest, sub.chat_id)
        parts = render_digest(
            items, self.topic_names(), sub.timezone, now, per_topic=self.policy.digest_per_topic, ids=[d.id for d in items]
        )
        for part in parts:
            chosen = [d for d in items if d.id in set(part.delivery_ids)]
            buttons = await self._more_buttons(sub.chat_id, part.more, now)
            if not await self._deliver(sub, chosen, part.text, preview=False, buttons=buttons, shown_as="digest"):
                return False  # the rest stays pending; the next digest run picks it up
        await self.db.run(
            update_subscriber, sub.chat_id, last_digest_at=now, next_digest_at=next_digest_at(sub.digest_times, sub.timezone, now)
        )
        return bool(parts)

    async def _more_buttons(self, chat_id: int, mores: Sequence[More], now: datetime) -> list[Button]:
        """Keep each "+N more" list; a button a list that opens its first page."""
        buttons: list[Button] = []
        for m in mores:
            list_id = await self.db.run(create_story_list, chat_id, m.kind, m.title, m.story_ids, m.offset, m.total, now)
            label = f"{clip(m.title, 40)}: {len(m.story_ids)} more ›" if m.kind == "digest" else f"{len(m.story_ids)} more ›"
            buttons.append((label, more_data(list_id)))
        return buttons

    async def _deliver(
        self,
        sub: Subscriber,
        items: Sequence[Delivery],
        text: str,
        *,
        preview: bool,
        buttons: Sequence[Button] = (),
        shown_as: str | None = None,
    ) -> bool:
        """Send one message carrying `items`; record the outcome. True when it was accepted."""
        ids = [d.id for d in items]
        lock = self._chat_locks.setdefault(sub.chat_id, asyncio.Lock())
        async with lock:
            try:
                message_ids = await self._send(sub, text, preview, buttons)
            except FloodWait as e:
                log.warning("outbox: %s; %d deliveries to chat %s rescheduled", e, len(ids), sub.chat_id)
                await self.db.run(mark_retry, ids, self.clock() + timedelta(seconds=e.seconds), str(e), count_attempt=False)
                return False
            except ChatMoved as e:
                log.info("outbox: chat %s is now %s", sub.chat_id, e.new_chat_id)
                await self.db.run(migrate_chat, sub.chat_id, e.new_chat_id)
                moved = await self.db.run(get_subscriber, e.new_chat_id)
                return moved is not None and await self._deliver(
                    moved, items, text, preview=preview, buttons=buttons, shown_as=shown_as
                )
            except ChatGone as e:
                log.info("outbox: deactivating chat %s: %s", sub.chat_id, e)
                await self.db.run(deactivate_subscriber, sub.chat_id, str(e), self.clock())
                return False
            except SendError as e:
                await self._failed(sub, items, e)
                return False
        feeds = [d.n_feeds for d in items]
        await self.db.run(mark_sent, ids, message_ids, self.clock(), shown_as=shown_as, shown_feeds=feeds)
        self.sent_messages += 1
        return True

    async def _send(self, sub: Subscriber, text: str, preview: bool, buttons: Sequence[Button]) -> list[int]:
        try:
            return await self.sender.send(sub.chat_id, sub.thread_id, text, html=True, preview=preview, buttons=buttons)
        except BadMarkup as e:
            log.warning("outbox: %s; resending as plain text", e)
            plain = html_to_plain(text)
            return await self.sender.send(sub.chat_id, sub.thread_id, plain, html=False, preview=preview, buttons=buttons)

    async def _failed(self, sub: Subscriber, items: Sequence[Delivery], error: SendError) -> None:
        ids = [d.id for d in items]
        if self._stopping:
            await self.db.run(mark_retry, ids, self.clock(), str(error), count_attempt=False)
            return
        attempts = max(d.attempts for d in items) + 1
        if attempts >= self.policy.max_attempts or not isinstance(error, SendFailed):
            log.error("outbox: giving up on %d deliveries to chat %s: %s", len(ids), sub.chat_id, error)
            await self.db.run(mark_failed, ids, str(error), self.clock())
            if self.notify_admins:
                await self.notify_admins(f"Delivery to chat {sub.chat_id} failed after {attempts} attempts: {error}")
            return
        delay = self.policy.retry_base_s * 2 ** (attempts - 1)
        log.warning("outbox: %s; retry %d in %.0f s", error, attempts, delay)
        await self.db.run(mark_retry, ids, self.clock() + timedelta(seconds=delay), str(error))
