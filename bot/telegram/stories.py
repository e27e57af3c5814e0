"""Story lists in Telegram: the "+N more" buttons under digests and bursts, the page buttons under
a page, and /latest. Thin callbacks over StoryPages (`application.bot_data["pages"]`); every call they
make (answers, new pages, edits) goes through the send gate like any other.

A "+N more" button sends the list's first page as a new message, so the digest stays as it was; the
buttons under a page show the previous or next page in place of it.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from bot.delivery.messages import MORE_BUTTON, PAGE_BUTTON, parse_button_data
from bot.delivery.render import cap_html
from bot.errors import SendFailed
from bot.pages import EXPIRED, Page, StoryPages
from bot.telegram.handlers import chat_ref, reply

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def _pages(context: Context) -> StoryPages:
    pages: StoryPages = context.application.bot_data["pages"]
    return pages


def _markup(page: Page) -> InlineKeyboardMarkup | None:
    """The page buttons side by side."""
    if not page.buttons:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data) for label, data in page.buttons]])


async def _answer(query: CallbackQuery, text: str | None = None) -> None:
    try:
        await query.answer(text, show_alert=text is not None)
    except (TelegramError, SendFailed) as e:  # "query is too old" after a long restart, a flood wait
        log.warning("telegram: callback answer not sent: %s", e)


async def _page_for(update: Update, context: Context) -> tuple[CallbackQuery, Page] | None:
    """The query and the page its button asks for; answers and returns None when there is none."""
    query = update.callback_query
    if query is None or query.data is None or update.effective_chat is None:
        return None
    wanted = parse_button_data(query.data)
    page = await _pages(context).page(update.effective_chat.id, *wanted) if wanted else None
    if page is None:
        await _answer(query, EXPIRED)
        return None
    await _answer(query)
    return query, page


async def more_button(update: Update, context: Context) -> None:
    """A "+N more" button: the list's first page, as a new message in the same chat (and thread)."""
    found = await _page_for(update, context)
    if found is None:
        return
    _, page = found
    ref = chat_ref(update)
    try:
        await context.bot.send_message(
            ref.chat_id,
            cap_html(page.text)[0],
            parse_mode=ParseMode.HTML,
            message_thread_id=ref.thread_id,
            link_preview_options=NO_PREVIEW,
            reply_markup=_markup(page),
        )
    except (TelegramError, SendFailed) as e:
        log.warning("telegram: story page for chat %s not sent: %s", ref.chat_id, e)


async def page_button(update: Update, context: Context) -> None:
    """A page button: that page in place of the one shown."""
    found = await _page_for(update, context)
    if found is None:
        return
    query, page = found
    try:
        await query.edit_message_text(
            cap_html(page.text)[0], parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW, reply_markup=_markup(page)
        )
    except (TelegramError, SendFailed) as e:
        log.warning("telegram: story page in chat %s not shown: %s", query.message.chat.id if query.message else "?", e)


async def latest(update: Update, context: Context) -> None:
    """/latest topic"""
    page = await _pages(context).latest(chat_ref(update).chat_id, context.args or [])
    await reply(update, page.text, _markup(page))


def add_story_handlers(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Register /latest and the story list buttons."""
    app.add_handler(CommandHandler("latest", latest))
    app.add_handler(CallbackQueryHandler(more_button, pattern=f"^{MORE_BUTTON}"))
    app.add_handler(CallbackQueryHandler(page_button, pattern=f"^{PAGE_BUTTON}"))
