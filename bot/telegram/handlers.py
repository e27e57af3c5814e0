"""Subscriber commands: thin python-telegram-bot callbacks over SubscriberService.

Each handler reads the chat and the command's words, checks that the sender may change this chat's
settings (in groups: its administrators only), calls the service and replies. The service lives in
`application.bot_data["subscribers"]`. Every reply goes through `reply`, which splits it into messages
Telegram accepts; one that still cannot go (a flood wait longer than the gate retries, or the bot
stopping) is logged, not raised.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import RetryAfter
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes, MessageHandler, filters

from bot.admin import ADMIN_COMMANDS
from bot.delivery.render import MAX_PARTS, cap_html, echo
from bot.errors import SendFailed
from bot.subscribers import COMMANDS, ChatRef, SubscriberService, help_text

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
Handler = Callable[[Update, Context], Coroutine[Any, Any, None]]
TOPIC_BUTTON = "topic:"


def _service(context: Context) -> SubscriberService:
    service: SubscriberService = context.application.bot_data["subscribers"]
    return service


def chat_ref(update: Update) -> ChatRef:
    """The chat (and forum thread) an update came from."""
    chat = update.effective_chat
    msg = update.effective_message
    assert chat is not None
    thread = msg.message_thread_id if msg is not None and msg.is_topic_message else None
    return ChatRef(chat.id, thread, chat.type, chat.title or chat.username or chat.full_name)


async def may_configure(update: Update, context: Context) -> bool:
    """Private chats always; in groups only administrators (or an anonymous admin) change settings."""
    chat, user, msg = update.effective_chat, update.effective_user, update.effective_message
    if chat is None or chat.type == ChatType.PRIVATE:
        return True
    if msg is not None and msg.sender_chat is not None and msg.sender_chat.id == chat.id:
        return True  # an anonymous group administrator
    if user is None:
        return False
    member = await context.bot.get_chat_member(chat.id, user.id)
    return member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)


async def reply(update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Answer in the same chat (and forum thread), HTML, no link previews, in as many messages as it
    takes (at most MAX_PARTS); the buttons go under the last."""
    msg = update.effective_message
    if msg is None:
        return
    parts = cap_html(text, max_parts=MAX_PARTS)
    try:
        for i, part in enumerate(parts, 1):
            last = markup if i == len(parts) else None
            await msg.reply_html(part, reply_markup=last, disable_web_page_preview=True, do_quote=False)
    except (RetryAfter, SendFailed) as e:
        log.warning("telegram: reply to chat %s not sent: %s", msg.chat_id, e)


def _admin_only(fn: Callable[[Update, Context, SubscriberService], Awaitable[str]]) -> Handler:
    async def handler(update: Update, context: Context) -> None:
        if not await may_configure(update, context):
            await reply(update, "Only this group's administrators can change its settings.")
            return
        await reply(update, await fn(update, context, _service(context)))

    handler.__name__ = fn.__name__
    return handler


def _topic_keyboard(buttons: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    rows = [[InlineKeyboardButton(label, callback_data=f"{TOPIC_BUTTON}{tid}")] for label, tid in buttons]
    return InlineKeyboardMarkup(rows)


@_admin_only
async def start(update: Update, context: Context, svc: SubscriberService) -> str:
    """/start"""
    return await svc.start(chat_ref(update))


async def help_command(update: Update, context: Context) -> None:
    """/help (an admin also sees the admin commands)"""
    user = update.effective_user
    is_admin = user is not None and user.id in context.application.bot_data.get("admin_ids", ())
    await reply(update, help_text(ADMIN_COMMANDS if is_admin else ()))


async def topics(update: Update, context: Context) -> None:
    """/topics: the catalog with follow/unfollow buttons."""
    text, buttons = await _service(context).topics_view(chat_ref(update).chat_id)
    await reply(update, text, _topic_keyboard(buttons))


async def topic_button(update: Update, context: Context) -> None:
    """A follow/unfollow button under /topics."""
    query = update.callback_query
    if query is None or query.data is None:
        return
    if not await may_configure(update, context):
        await query.answer("Only this group's administrators can change its settings.", show_alert=True)
        return
    svc = _service(context)
    ref = chat_ref(update)
    notice = await svc.toggle(ref, query.data.removeprefix(TOPIC_BUTTON))
    text, buttons = await svc.topics_view(ref.chat_id)
    await query.answer(notice)
    await query.edit_message_text(cap_html(text)[0], parse_mode=ParseMode.HTML, reply_markup=_topic_keyboard(buttons))


@_admin_only
async def subscribe(update: Update, context: Context, svc: SubscriberService) -> str:
    """/subscribe topic..."""
    return await svc.subscribe(chat_ref(update), context.args or [])


@_admin_only
async def unsubscribe(update: Update, context: Context, svc: SubscriberService) -> str:
    """/unsubscribe topic..."""
    return await svc.unsubscribe(chat_ref(update), context.args or [])


@_admin_only
async def mode(update: Update, context: Context, svc: SubscriberService) -> str:
    """/mode instant|digest"""
    return await svc.set_mode(chat_ref(update), context.args or [])


@_admin_only
async def digest(update: Update, context: Context, svc: SubscriberService) -> str:
    """/digest HH:MM ..."""
    return await svc.set_digest(chat_ref(update), context.args or [])


@_admin_only
async def timezone(update: Update, context: Context, svc: SubscriberService) -> str:
    """/timezone Area/City"""
    return await svc.set_timezone(chat_ref(update), context.args or [])


@_admin_only
async def pause(update: Update, context: Context, svc: SubscriberService) -> str:
    """/pause"""
    return await svc.pause(chat_ref(update), True)


@_admin_only
async def resume(update: Update, context: Context, svc: SubscriberService) -> str:
    """/resume"""
    return await svc.pause(chat_ref(update), False)


async def status(update: Update, context: Context) -> None:
    """/status"""
    await reply(update, await _service(context).status(chat_ref(update).chat_id))


@_admin_only
async def stop(update: Update, context: Context, svc: SubscriberService) -> str:
    """/stop"""
    return await svc.stop(chat_ref(update).chat_id)


async def unknown_command(update: Update, context: Context) -> None:
    """Any other /command."""
    msg = update.effective_message
    word = (msg.text or "").split()[0] if msg and msg.text else "that"
    await reply(update, f"I don't know {echo(word)}. /help lists what I can do.")


def add_subscriber_handlers(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Register the subscriber commands (the catch-all for unknown commands is added after every other)."""
    commands: list[tuple[str, Handler]] = [
        ("start", start),
        ("help", help_command),
        ("topics", topics),
        ("subscribe", subscribe),
        ("unsubscribe", unsubscribe),
        ("mode", mode),
        ("digest", digest),
        ("timezone", timezone),
        ("pause", pause),
        ("resume", resume),
        ("status", status),
        ("stop", stop),
    ]
    for name, callback in commands:
        app.add_handler(CommandHandler(name, callback))
    app.add_handler(CallbackQueryHandler(topic_button, pattern=f"^{TOPIC_BUTTON}"))


def add_fallback_handler(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Unknown commands get a helpful answer: same group, registered last, so it only sees the rest."""
    app.add_handler(MessageHandler(filters.COMMAND, unknown_command))


def bot_commands() -> list[BotCommand]:
    """The command list shown by Telegram clients (setMyCommands)."""
    return [BotCommand(name, desc) for name, desc in COMMANDS]
