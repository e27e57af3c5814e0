"""Senders put one message in one chat: Telegram through python-telegram-bot, or the console.

A sender holds no rules: it sends and translates what went wrong into bot.errors (FloodWait,
ChatGone, ChatMoved, BadMarkup, SendFailed). The outbox decides what to do about it.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from datetime import timedelta
from typing import Protocol, TextIO

from telegram import Bot, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError

from bot.delivery.render import html_to_plain
from bot.errors import BadMarkup, ChatGone, ChatMoved, FloodWait, SendFailed

log = logging.getLogger(__name__)

_GONE = ("chat not found", "bot was kicked", "user is deactivated", "have no rights to send", "not enough rights")


class Sender(Protocol):
    """Delivers one message; returns the message ids Telegram gave it."""

    async def send(
        self, chat_id: int, thread_id: int | None, text: str, *, html: bool = True, preview: bool = False
    ) -> list[int]:
        """Send `text` (Telegram HTML unless html=False) to the chat, or raise a SendError."""
        ...


class TelegramSender:
    """Sends through python-telegram-bot's Bot (the send gate sits underneath, as its rate limiter)."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(
        self, chat_id: int, thread_id: int | None, text: str, *, html: bool = True, preview: bool = False
    ) -> list[int]:
        """Send one message and translate Telegram's answer into bot.errors."""
        try:
            msg = await self.bot.send_message(
                chat_id,
                text,
                parse_mode=ParseMode.HTML if html else None,
                message_thread_id=thread_id,
                link_preview_options=LinkPreviewOptions(is_disabled=not preview),
            )
        except RetryAfter as e:
            with warnings.catch_warnings():  # PTB 22 warns that retry_after will become a timedelta
                warnings.simplefilter("ignore")
                wait = e.retry_after
            seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
            raise FloodWait(f"sender: flood wait {seconds:g} s for chat {chat_id}", seconds) from e
        except ChatMigrated as e:
            raise ChatMoved(f"sender: chat {chat_id} moved to {e.new_chat_id}", int(e.new_chat_id)) from e
        except Forbidden as e:
            raise ChatGone(f"sender: forbidden in chat {chat_id}: {e.message}") from e
        except BadRequest as e:
            text_lower = e.message.lower()
            if "can't parse entities" in text_lower or "unsupported start tag" in text_lower:
                raise BadMarkup(f"sender: Telegram rejected the HTML for chat {chat_id}: {e.message}") from e
            if any(g in text_lower for g in _GONE):
                raise ChatGone(f"sender: chat {chat_id}: {e.message}") from e
            raise SendFailed(f"sender: bad request for chat {chat_id}: {e.message}") from e
        except TelegramError as e:  # NetworkError, TimedOut, 5xx ...
            raise SendFailed(f"sender: {type(e).__name__} for chat {chat_id}: {e.message}") from e
        return [msg.message_id]


class ConsoleSender:
    """Prints what a subscriber would see, as plain text (no token configured)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.count = 0
        self._lock = asyncio.Lock()

    async def send(
        self, chat_id: int, thread_id: int | None, text: str, *, html: bool = True, preview: bool = False
    ) -> list[int]:
        """Write the message and a separator, flushed."""
        async with self._lock:
            self.count += 1
            self.out.write((html_to_plain(text) if html else text) + "\n\n")
            self.out.flush()
            return [self.count]
