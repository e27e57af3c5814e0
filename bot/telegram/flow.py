"""How calls and updates flow through python-telegram-bot: the send gate under every Bot API call,
and concurrent update handling that keeps each chat's updates in order.

GateRateLimiter is PTB's rate limiter hook, so it sees every call the bot makes (outbox sends, command
replies, edits, callback answers, admin notices; getUpdates is never limited). A call answered 429 holds
the whole gate for retry_after and is tried again, at most `flood_retries` times and only when
Telegram asks for at most `flood_max_wait_s`; otherwise the RetryAfter reaches the caller (the outbox
reschedules the delivery). With a journal, each group message and each hold is also written to the
database before the call goes on (bot/delivery/gatelog.py), so a restarted bot keeps them.

PerChatUpdateProcessor handles updates from different chats at the same time and one chat's updates
one after another, in the order they came; a chat with more than `max_queued` updates waiting has the
extra ones skipped (logged), so one flooding group cannot take every slot.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any

from telegram import Update
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter, BaseUpdateProcessor

from bot.delivery.gate import SendGate
from bot.delivery.gatelog import GateJournal

log = logging.getLogger(__name__)

JSONDict = dict[str, Any]

MESSAGE_METHODS = ("send", "edit", "copy", "forward")  # calls that put a message in a chat
MAX_CONCURRENT_UPDATES = 1024
MAX_QUEUED_PER_CHAT = 50


def retry_after_seconds(error: RetryAfter) -> float:
    """The wait Telegram asked for, in seconds."""
    with warnings.catch_warnings():  # PTB 22 warns that retry_after will become a timedelta
        warnings.simplefilter("ignore")
        wait = error.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)


def chat_of(data: dict[str, Any]) -> int | str | None:
    """The chat a Bot API call addresses: an int id, an @username, or None."""
    chat = data.get("chat_id")
    if chat is None:
        return None
    try:
        return int(chat)
    except (TypeError, ValueError):
        return str(chat)


class GateRateLimiter(BaseRateLimiter[int]):
    """PTB's rate limiter hook over a SendGate; rate_limit_args, when given, is the number of retries."""

    def __init__(self, gate: SendGate, journal: GateJournal | None = None) -> None:
        self.gate, self.journal = gate, journal

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Let nothing wait any longer."""
        self.gate.close()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | JSONDict | list[JSONDict]:
        """Wait for the gate, call; on a 429 hold the gate and try again within the bounds."""
        chat = chat_of(data)
        message = endpoint.startswith(MESSAGE_METHODS) and chat is not None
        limits = self.gate.limits
        retries = limits.flood_retries if rate_limit_args is None else rate_limit_args
        attempt = 0
        while True:
            async with self.gate.turn(chat, message=message):
                if message and self.journal is not None:
                    await self.journal.message(chat)
                try:
                    return await callback(*args, **kwargs)
                except RetryAfter as e:
                    seconds = retry_after_seconds(e)
                    self.gate.hold(seconds)  # before the turn ends: no waiting call can miss it
                    if self.journal is not None:
                        await self.journal.flood_hold(seconds)
                    if attempt >= retries or seconds > limits.flood_max_wait_s:
                        log.warning("telegram: %s for chat %s answered 429; holding every call %g s", endpoint, chat, seconds)
                        raise
            attempt += 1
            log.warning(
                "telegram: %s for chat %s answered 429; every call held %g s, then retry %d", endpoint, chat, seconds, attempt
            )


def update_chat(update: object) -> int | None:
    """The chat an update belongs to (None for updates without one)."""
    if isinstance(update, Update) and update.effective_chat is not None:
        return update.effective_chat.id
    return None


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Updates of different chats concurrently; each chat's updates one at a time, in order."""

    def __init__(self, max_concurrent_updates: int = MAX_CONCURRENT_UPDATES, max_queued: int = MAX_QUEUED_PER_CHAT) -> None:
        super().__init__(max_concurrent_updates)
        self.max_queued = max_queued
        self._locks: dict[int, asyncio.Lock] = {}
        self._queued: dict[int, int] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Run the handlers for `update` after the chat's earlier updates are done."""
        chat = update_chat(update)
        if chat is None:
            await coroutine
            return
        if self._queued.get(chat, 0) >= self.max_queued:
            log.warning("telegram: chat %s has %d updates waiting; skipping one", chat, self.max_queued)
            if isinstance(coroutine, Coroutine):
                coroutine.close()
            return
        self._queued[chat] = self._queued.get(chat, 0) + 1
        lock = self._locks.setdefault(chat, asyncio.Lock())
        try:
            async with lock:
                await coroutine
        finally:
            self._queued[chat] -= 1
            if not self._queued[chat]:
                del self._queued[chat], self._locks[chat]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to free."""
