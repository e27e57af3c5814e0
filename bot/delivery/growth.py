"""Alerts that grow with their story: a sent alert is edited, not resent, when more outlets carry it.

Rules:
1. Only a message that carried one alert is edited (a burst or a digest stays as it was sent).
2. An alert is edited when its story has more outlets than it names, at most once per `edit_gap_s`
   (counted from its sending or its last edit), and only within `edit_window_s` of its sending. The
   search for such alerts scans the window's alerts, so a drain runs it at most once per `edit_check_s`
   (bench/growth_bench.py).
3. The edit goes through the sender, so through the send gate, like every other call; an edit never
   notifies and never sends a new message.
4. A message that can no longer be edited (deleted, too old) is left alone from then on; after a flood
   wait or any other failure the alert is tried again one gap later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.delivery.messages import render_alert
from bot.delivery.senders import Sender
from bot.errors import MessageGone, SendError
from storage.db import AsyncDB
from storage.growth import grown_alerts, mark_edited, postpone_edit, stop_growing
from storage.outbox import deliveries_by_id
from storage.subscribers import get_subscriber

if TYPE_CHECKING:
    from bot.delivery.outbox import OutboxPolicy

log = logging.getLogger(__name__)


class AlertGrowth:
    """Finds the sent alerts whose story grew and edits them."""

    def __init__(
        self,
        db: AsyncDB,
        sender: Sender,
        topic_names: Callable[[], dict[str, str]],
        policy: OutboxPolicy,
        clock: Callable[[], datetime],
    ) -> None:
        self.db, self.sender, self.topic_names, self.policy, self.clock = db, sender, topic_names, policy, clock
        self.edited = 0
        self._next_check: datetime | None = None

    async def edit_due(self) -> int:
        """Edit every alert that is due (looking at most once per `edit_check_s`); return how many were edited."""
        now = self.clock()
        if self._next_check is not None and now < self._next_check:
            return 0
        self._next_check = now + timedelta(seconds=self.policy.edit_check_s)
        gap, window = timedelta(seconds=self.policy.edit_gap_s), timedelta(seconds=self.policy.edit_window_s)
        due = dict(await self.db.run(grown_alerts, now, gap, window))
        if not due:
            return 0
        names = self.topic_names()
        done = 0
        zones: dict[int, str] = {}
        for d in await self.db.run(deliveries_by_id, list(due)):
            if d.chat_id not in zones:
                sub = await self.db.run(get_subscriber, d.chat_id)
                zones[d.chat_id] = sub.timezone if sub else "UTC"
            text = render_alert(d, names.get(d.topic, d.topic), zones[d.chat_id], self.clock())
            try:
                await self.sender.edit(d.chat_id, due[d.id], text, preview=True)
            except MessageGone as e:
                log.info("outbox: alert %s in chat %s can no longer grow: %s", d.id, d.chat_id, e)
                await self.db.run(stop_growing, d.id, self.clock())
                continue
            except SendError as e:
                log.warning("outbox: alert %s in chat %s not edited (tried again later): %s", d.id, d.chat_id, e)
                await self.db.run(postpone_edit, d.id, self.clock())
                continue
            await self.db.run(mark_edited, d.id, d.n_feeds, self.clock())
            done += 1
        self.edited += done
        return done
