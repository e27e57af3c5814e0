"""Send queued surge alerts: a chart (PNG) with the caption "🔺 topic: N stories in the last 3 h, ...".

The rows come from storage/surges.py, queued in the transaction that started the surge. Each goes
through the sender (so through the send gate, like every Telegram call) and is marked sent only after
Telegram accepted it: a crash or a stop leaves it pending for the next drain, never sent twice. The
chart shows the 7 days up to the surge's start in the chat's zone; it is drawn once per (surge, zone)
and then re-sent by the file_id Telegram gave it. Failures follow the outbox's rules: a flood wait
reschedules without counting, a moved chat is followed, a gone chat is deactivated, other errors back off
and give up after `max_attempts`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.delivery.outbox import OutboxPolicy, drain_loop
from bot.delivery.render import html_to_plain
from bot.errors import BadMarkup, ChatGone, ChatMoved, FloodWait, SendError
from bot.trends.service import draw
from bot.trends.text import surge_caption, surge_chart
from storage.db import AsyncDB, utcnow
from storage.subscribers import deactivate_subscriber, migrate_chat
from storage.surges import (
    SurgeAlert,
    due_surge_alerts,
    mark_surge_failed,
    mark_surge_retry,
    mark_surge_sent,
    stories_by_id,
)
from storage.trends import topic_stories
from storage.watches import watch_labels

log = logging.getLogger(__name__)


class PhotoSender(Protocol):
    """Sends a picture with a caption (TelegramSender, ConsoleSender)."""

    async def send_photo(
        self, chat_id: int, thread_id: int | None, photo: bytes | str, caption: str, *, html: bool = True
    ) -> tuple[list[int], str | None]:
        """Send; return the message ids and Telegram's file_id for the picture."""
        ...


class SurgeAlerts:
    """Drains the surge outbox."""

    def __init__(
        self,
        db: AsyncDB,
        sender: PhotoSender,
        topic_names: Callable[[], dict[str, str]],
        policy: OutboxPolicy | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db, self.sender, self.topic_names, self.clock = db, sender, topic_names, clock
        self.policy = policy or OutboxPolicy()
        self._wake = asyncio.Event()
        self._busy = asyncio.Lock()
        self._stopping = False
        self._pictures: dict[tuple[int, str], bytes | str] = {}  # (surge, zone) -> PNG, then its file_id
        self.sent = 0

    def wake(self) -> None:
        """Look at the queue now."""
        self._wake.set()

    def stop(self) -> None:
        """A send cut short from now on stays pending without counting an attempt."""
        self._stopping = True

    async def run(self, stop: asyncio.Event) -> None:
        """Drain when woken, and every `idle_check_s` for retries that became due, until `stop`."""
        await drain_loop("surge alerts", self.drain, self._wake, stop, self.policy.idle_check_s)

    async def drain(self) -> int:
        """Send every surge alert that is due, one at a time; return how many were accepted."""
        async with self._busy:
            before = self.sent
            for alert in await self.db.run(due_surge_alerts, self.clock()):
                await self._deliver(alert, alert.chat_id)
            return self.sent - before

    async def _caption(self, alert: SurgeAlert) -> str:
        stories = await self.db.run(stories_by_id, list(alert.story_ids))
        name = await self._name(alert.topic)
        top = [(title, url, n_feeds) for _, n_feeds, title, url in stories]
        return surge_caption(name, alert.recent, alert.baseline, alert.window_h, top)

    async def _name(self, key: str) -> str:
        """A topic's name, or "🔎 name" for a personal watch."""
        if key in self.topic_names():
            return self.topic_names()[key]
        labels: dict[str, str] = await self.db.run(watch_labels, [key])
        return labels.get(key, key)

    async def _picture(self, alert: SurgeAlert) -> bytes | str:
        key = (alert.surge_id, alert.timezone)
        if key not in self._pictures:
            rows = await self.db.run(topic_stories, [alert.topic], alert.started_at - timedelta(days=8))
            name = await self._name(alert.topic)
            chart = surge_chart(name, rows, alert.started_at, alert.window_h, ZoneInfo(alert.timezone))
            self._pictures[key] = await draw(chart)
        return self._pictures[key]

    async def _deliver(self, alert: SurgeAlert, chat_id: int, *, html: bool = True) -> None:
        caption, picture = await self._caption(alert), await self._picture(alert)
        try:
            message_ids, file_id = await self.sender.send_photo(
                chat_id, alert.thread_id, picture, caption if html else html_to_plain(caption), html=html
            )
        except BadMarkup as e:
            log.warning("surge alerts: %s; resending as plain text", e)
            if html:
                await self._deliver(alert, chat_id, html=False)
            return
        except FloodWait as e:
            await self.db.run(
                mark_surge_retry, alert.id, self.clock() + timedelta(seconds=e.seconds), str(e), count_attempt=False
            )
            return
        except ChatMoved as e:
            log.info("surge alerts: chat %s is now %s", chat_id, e.new_chat_id)
            await self.db.run(migrate_chat, chat_id, e.new_chat_id)
            await self._deliver(alert, e.new_chat_id, html=html)
            return
        except ChatGone as e:
            log.info("surge alerts: deactivating chat %s: %s", chat_id, e)
            await self.db.run(deactivate_subscriber, chat_id, str(e), self.clock())
            return
        except SendError as e:
            await self._failed(alert, e)
            return
        if file_id:
            self._pictures[(alert.surge_id, alert.timezone)] = file_id
        await self.db.run(mark_surge_sent, alert.id, message_ids, self.clock())
        self.sent += 1

    async def _failed(self, alert: SurgeAlert, error: SendError) -> None:
        if self._stopping:
            await self.db.run(mark_surge_retry, alert.id, self.clock(), str(error), count_attempt=False)
            return
        attempts = alert.attempts + 1
        if attempts >= self.policy.max_attempts:
            log.error("surge alerts: giving up on alert %d to chat %s: %s", alert.id, alert.chat_id, error)
            await self.db.run(mark_surge_failed, alert.id, str(error), self.clock())
            return
        delay = self.policy.retry_base_s * 2 ** (attempts - 1)
        log.warning("surge alerts: %s; retry %d in %.0f s", error, attempts, delay)
        await self.db.run(mark_surge_retry, alert.id, self.clock() + timedelta(seconds=delay), str(error))
