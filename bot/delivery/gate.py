"""The send gate: every call to Telegram waits here for its turn, then goes at once.

Rules, all checked together immediately before each call (nothing awaits between the last check and
the call, so a flood hold recorded meanwhile is always seen):
1. Flood hold: after a 429, no call of any kind goes out until its retry_after has passed.
2. Per chat: at most one message in flight, and `private_gap_s` (private chats) or `group_gap_s`
   (groups and channels) between the answer to one message and the next.
3. Per group (chat id < 0): at most `group_limit` messages in any `group_window_s`.
4. Bot-wide: at most `max_per_second` calls in any one second.
A call counts against a window from the moment it starts until one window after it completed:
wherever it reached Telegram in between, no window there holds more than the limit. Rules 2 and 3
apply to calls that put a message in a chat (send, edit, copy, forward); rules 1 and 4 to every call.
`close(grace_s)` makes every call that would have to wait past `grace_s` from then fail at once
(SendFailed), so stopping never waits longer than that for a window or a flood hold. `restore` takes
back a hold and group windows an earlier process left (bot/delivery/gatelog.py keeps them).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass

from bot.errors import SendFailed

PRUNE_AT = 4096  # forget finished chats' pacing state once this many are remembered


@dataclass(frozen=True)
class SendLimits:
    """What the gate enforces (defaults follow Telegram's published limits)."""

    private_gap_s: float = 1.0  # seconds between two messages to one private chat
    group_gap_s: float = 1.0  # seconds between two messages to one group or channel
    group_limit: int = 20  # messages per group ...
    group_window_s: float = 60.0  # ... in any window this long
    max_per_second: int = 25  # calls bot-wide in any one second (Telegram: about 30)
    flood_retries: int = 3  # a call answered 429 is tried again this many times ...
    flood_max_wait_s: float = 60.0  # ... when Telegram asks to wait at most this long


class _Window:
    """At most `limit` calls in any `period`: each counts from its start until `period` after its end."""

    def __init__(self, limit: int, period: float) -> None:
        self.limit, self.period = limit, period
        self.ends: deque[float] = deque()
        self.in_flight = 0

    def delay(self, now: float) -> float | None:
        """0 when a call may start now; else how long until one may (None: until a call in flight ends)."""
        while self.ends and self.ends[0] <= now:
            self.ends.popleft()
        if len(self.ends) + self.in_flight < self.limit:
            return 0.0
        return self.ends[0] - now if self.ends else None

    def is_idle(self, now: float) -> bool:
        """True when nothing in flight and nothing still counted."""
        self.delay(now)  # drops the calls that stopped counting
        return self.in_flight == 0 and not self.ends


def _longest(*delays: float | None) -> float | None:
    """The wait that satisfies every rule: None (wait for a change) beats any number."""
    if any(d is None for d in delays):
        return None
    return max((d for d in delays if d is not None), default=0.0)


class SendGate:
    """Flood holds and rate limits shared by every outgoing Telegram call."""

    def __init__(self, limits: SendLimits | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits or SendLimits()
        self.clock = clock
        self._hold_until = 0.0
        self._bot = _Window(self.limits.max_per_second, 1.0)
        self._groups: dict[int | str, _Window] = {}
        self._busy: set[int | str] = set()  # chats with a message in flight
        self._free_at: dict[int | str, float] = {}  # when each chat may get its next message
        self._changed = asyncio.Event()
        self._deadline = math.inf  # once closed: calls that cannot start by then fail

    @property
    def hold_remaining(self) -> float:
        """Seconds left of the current flood hold (0 when none)."""
        return max(0.0, self._hold_until - self.clock())

    def hold(self, seconds: float) -> None:
        """Telegram asked to wait: no call goes out for `seconds` from now."""
        self._hold_until = max(self._hold_until, self.clock() + seconds)
        self._notify()

    def restore(self, hold_s: float, group_ends: dict[int | str, list[float]]) -> None:
        """Take back what an earlier process left: a flood hold of `hold_s` more seconds, and for each
        group the messages still counting against its window (seconds from now until each stops)."""
        if hold_s > 0:
            self.hold(hold_s)
        now = self.clock()
        for chat, ends in group_ends.items():
            window = self._group(chat)
            window.ends = deque(sorted([*window.ends, *(now + e for e in ends)]))
        self._notify()

    def close(self, grace_s: float = 0.0) -> None:
        """Stop waiting: from now on a call that cannot start within `grace_s` fails."""
        self._deadline = min(self._deadline, self.clock() + grace_s)
        self._notify()

    @asynccontextmanager
    async def turn(self, chat: int | str | None, *, message: bool) -> AsyncIterator[None]:
        """Wait until a call for `chat` may go (message: it puts a message in the chat), hold the turn
        while the call runs, and count it when it ends."""
        chat = chat if message else None
        await self._acquire(chat)
        try:
            yield
        finally:
            self._release(chat)

    def _delay(self, chat: int | str | None, now: float) -> float | None:
        delays: list[float | None] = [max(0.0, self._hold_until - now), self._bot.delay(now)]
        if chat is not None:
            delays.append(None if chat in self._busy else max(0.0, self._free_at.get(chat, 0.0) - now))
            if is_group(chat):
                delays.append(self._group(chat).delay(now))
        return _longest(*delays)

    async def _acquire(self, chat: int | str | None) -> None:
        while (delay := self._delay(chat, now := self.clock())) != 0.0:
            left = self._deadline - now
            if left <= 0 or (delay is not None and delay > left):
                raise SendFailed(f"gate: the bot is stopping; nothing more is sent to chat {chat}")
            changed = self._changed
            with suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), delay if delay is not None else min(left, 3600.0))
        self._bot.in_flight += 1
        if chat is not None:
            self._busy.add(chat)
            if is_group(chat):
                self._group(chat).in_flight += 1

    def _release(self, chat: int | str | None) -> None:
        now = self.clock()
        self._bot.in_flight -= 1
        self._bot.ends.append(now + 1.0)
        if chat is not None:
            self._busy.discard(chat)
            gap = self.limits.group_gap_s if is_group(chat) else self.limits.private_gap_s
            self._free_at[chat] = now + gap
            if is_group(chat):
                window = self._group(chat)
                window.in_flight -= 1
                window.ends.append(now + window.period)
            if len(self._free_at) > PRUNE_AT:
                self._prune(now)
        self._notify()

    def _group(self, chat: int | str) -> _Window:
        window = self._groups.get(chat)
        if window is None:
            window = self._groups[chat] = _Window(self.limits.group_limit, self.limits.group_window_s)
        return window

    def _prune(self, now: float) -> None:
        self._free_at = {c: t for c, t in self._free_at.items() if t > now or c in self._busy}
        self._groups = {c: w for c, w in self._groups.items() if not w.is_idle(now)}

    def _notify(self) -> None:
        """Wake every waiter to look again (a call ended, a hold began, or the gate closed)."""
        self._changed.set()
        self._changed = asyncio.Event()


def is_group(chat: int | str) -> bool:
    """Groups, supergroups and channels have negative ids (or an @username)."""
    return isinstance(chat, str) or chat < 0
