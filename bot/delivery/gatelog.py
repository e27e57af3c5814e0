"""Keeps the send gate's flood hold and group windows in SQLite, so a bot restarted within a minute
(a crash, a deploy, a supervisor) still waits out Telegram's retry_after and still sends no group
more than its 20 messages a minute.

A group message is written down before its call goes out, counting until one window plus
`CALL_ALLOWANCE_S` after it started (it reaches Telegram some time before its answer); a flood hold
is written down as soon as the 429 is read. Across a restart these are all that is kept: a kill in
the instant between a 429's arrival and its row being committed loses that hold, and a group call
that took longer than the allowance counts a little less long than the running gate counts it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.delivery.gate import SendGate, is_group
from storage.db import AsyncDB
from storage.sendlog import load_send_windows, record_send_window

CALL_ALLOWANCE_S = 2.0  # longer than a call to Telegram takes but for the slowest


class GateJournal:
    """Writes the gate's hold and group messages down, and gives them back to the next process's gate."""

    def __init__(self, db: AsyncDB, gate: SendGate, wall: Callable[[], float] = time.time) -> None:
        self.db, self.gate, self.wall = db, gate, wall

    async def restore(self) -> None:
        """Give the gate what an earlier process left that still holds."""
        now = self.wall()
        hold_until, groups = await self.db.run(load_send_windows, now)
        self.gate.restore(hold_until - now, {_chat(c): [u - now for u in ends] for c, ends in groups.items()})

    async def message(self, chat: int | str | None) -> None:
        """A message is about to go to `chat`: a group's counts against its window across a restart."""
        if chat is not None and is_group(chat):
            now = self.wall()
            until = now + self.gate.limits.group_window_s + CALL_ALLOWANCE_S
            await self.db.run(record_send_window, str(chat), until, now)

    async def flood_hold(self, seconds: float) -> None:
        """Telegram asked to wait `seconds`: so must the next process."""
        now = self.wall()
        await self.db.run(record_send_window, None, now + seconds, now)


def _chat(text: str) -> int | str:
    try:
        return int(text)
    except ValueError:
        return text
