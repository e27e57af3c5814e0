"""Senders put one message in one chat: Telegram through python-telegram-bot, or the console.

A sender holds no rules: it sends and translates what went wrong into bot.errors (FloodWait,
ChatGone, ChatMoved, BadMarkup, SendFailed). The outbox decides what to do about it.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Sequence
from datetime import timedelta
from typing import Protocol, TextIO

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError

from bot.delivery.render import html_to_plain
from bot.errors import BadMarkup, ChatGone, ChatMoved, FloodWait, MessageGone, SendError, SendFailed

log = logging.getLogger(__name__)

_GONE = ("chat not found", "bot was kicked", "user is deactivated", "have no rights to send", "not enough rights")
_MESSAGE_GONE = ("message to edit not found", "message can't be edited", "message_id_invalid")

Button = tuple[str, str]  # (label, callback data) of an inline button


class Sender(Protocol):
    """Delivers one message, or edits one it sent; returns the message ids Telegram gave it."""

    async def send(
        self,
        chat_id: int,
        thread_id: int | None,
        text: str,
        *,
        html: bool = True,
        preview: bool = False,
        buttons: Sequence[Button] = (),
    ) -> list[int]:
        """Send `text` (Telegram HTML unless html=False) to the chat, with inline buttons (one a row),
        or raise a SendError."""
        ...

    async def edit(self, chat_id: int, message_id: int, text: str, *, preview: bool = False) -> None:
        """Replace the text (Telegram HTML) of a message sent before, silently, or raise a SendError
        (MessageGone when it can no longer be edited)."""
        ...


def keyboard(buttons: Sequence[Button]) -> InlineKeyboardMarkup | None:
    """Inline buttons, one a row (None for none)."""
    if not buttons:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data)] for label, data in buttons])


class TelegramSender:
    """Sends through python-telegram-bot's Bot (the send gate sits underneath, as its rate limiter)."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(
        self,
        chat_id: int,
        thread_id: int | None,
        text: str,
        *,
        html: bool = True,
        preview: bool = False,
        buttons: Sequence[Button] = (),
    ) -> list[int]:
        """Send one message and translate Telegram's answer into bot.errors."""
        try:
            msg = await self.bot.send_message(
                chat_id,
                text,
                parse_mode=ParseMode.HTML if html else None,
                message_thread_id=thread_id,
                link_preview_options=LinkPreviewOptions(is_disabled=not preview),
                reply_markup=keyboard(buttons),
            )
        except TelegramError as e:
            raise send_error(e, chat_id) from e
        return [msg.message_id]

    async def edit(self, chat_id: int, message_id: int, text: str, *, preview: bool = False) -> None:
        """Edit one message (no notification); an edit that changes nothing counts as done."""
        try:
            await self.bot.edit_message_text(
                text,
                chat_id=chat_id,
                message_id=message_id,
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=not preview),
            )
        except BadRequest as e:
            if "message is not modified" not in e.message.lower():
                raise send_error(e, chat_id) from e
        except TelegramError as e:
            raise send_error(e, chat_id) from e

    async def send_photo(
        self, chat_id: int, thread_id: int | None, photo: bytes | str, caption: str, *, html: bool = True
    ) -> tuple[list[int], str | None]:
        """Send a picture (PNG bytes, or the file_id of one sent before) with a caption; return the
        message ids and the file_id Telegram keeps it under (to send it again without uploading)."""
        try:
            msg = await self.bot.send_photo(
                chat_id, photo, caption=caption, parse_mode=ParseMode.HTML if html else None, message_thread_id=thread_id
            )
        except TelegramError as e:
            raise send_error(e, chat_id) from e
        file_id = msg.photo[-1].file_id if msg.photo else None
        return [msg.message_id], file_id


def send_error(e: TelegramError, chat_id: int) -> SendError:
    """Telegram's answer as one of bot.errors."""
    if isinstance(e, RetryAfter):
        with warnings.catch_warnings():  # PTB 22 warns that retry_after will become a timedelta
            warnings.simplefilter("ignore")
            wait = e.retry_after
        seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
        return FloodWait(f"sender: flood wait {seconds:g} s for chat {chat_id}", seconds)
    if isinstance(e, ChatMigrated):
        return ChatMoved(f"sender: chat {chat_id} moved to {e.new_chat_id}", int(e.new_chat_id))
    if isinstance(e, Forbidden):
        return ChatGone(f"sender: forbidden in chat {chat_id}: {e.message}")
    if isinstance(e, BadRequest):
        text_lower = e.message.lower()
        if "can't parse entities" in text_lower or "unsupported start tag" in text_lower:
            return BadMarkup(f"sender: Telegram rejected the HTML for chat {chat_id}: {e.message}")
        if any(g in text_lower for g in _GONE):
            return ChatGone(f"sender: chat {chat_id}: {e.message}")
        if any(g in text_lower for g in _MESSAGE_GONE):
            return MessageGone(f"sender: chat {chat_id}: {e.message}")
        return SendFailed(f"sender: bad request for chat {chat_id}: {e.message}")
    return SendFailed(f"sender: {type(e).__name__} for chat {chat_id}: {e.message}")  # NetworkError, TimedOut, 5xx ...


class ConsoleSender:
    """Prints what a subscriber would see, as plain text (no token configured)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.count = 0
        self._lock = asyncio.Lock()

    async def send(
        self,
        chat_id: int,
        thread_id: int | None,
        text: str,
        *,
        html: bool = True,
        preview: bool = False,
        buttons: Sequence[Button] = (),
    ) -> list[int]:
        """Write the message and a separator, flushed (a console has no buttons: the text says "+N more")."""
        async with self._lock:
            self.count += 1
            self.out.write((html_to_plain(text) if html else text) + "\n\n")
            self.out.flush()
            return [self.count]

    async def send_photo(
        self, chat_id: int, thread_id: int | None, photo: bytes | str, caption: str, *, html: bool = True
    ) -> tuple[list[int], str | None]:
        """Print the caption and say a chart was attached (the console shows no pictures)."""
        size = f"{len(photo):,} bytes" if isinstance(photo, bytes) else "sent before"
        text = f"{html_to_plain(caption) if html else caption}\n[chart: PNG, {size}]"
        return await self.send(chat_id, thread_id, text, html=False), None

    async def edit(self, chat_id: int, message_id: int, text: str, *, preview: bool = False) -> None:
        """A printed message cannot change: print the new text, marked as an update."""
        async with self._lock:
            self.out.write("(updated) " + html_to_plain(text) + "\n\n")
            self.out.flush()
