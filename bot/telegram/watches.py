"""Personal watch commands: thin python-telegram-bot callbacks over WatchService.

/watches lists the chat's watches to anyone in the chat; /watch and /unwatch change them, which in a
group only its administrators may do (the same check as every other chat setting). A watch belongs
to the chat it was made in: every lookup is by this chat's id. The service lives in
`application.bot_data["watches"]`.
"""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import Application, CommandHandler

from bot.telegram.admin import raw_args
from bot.telegram.handlers import Context, Handler, chat_ref, may_configure, reply
from bot.watches import WatchService

ADMINS_ONLY = "Only this group's administrators can change its watches."


def _service(context: Context) -> WatchService:
    service: WatchService = context.application.bot_data["watches"]
    return service


async def watch(update: Update, context: Context) -> None:
    """/watch [name:] <query>"""
    if not await may_configure(update, context):
        await reply(update, ADMINS_ONLY)
        return
    for text in await _service(context).watch(chat_ref(update), raw_args(update)):
        await reply(update, text)


async def watches(update: Update, context: Context) -> None:
    """/watches"""
    for text in await _service(context).watches(chat_ref(update).chat_id):
        await reply(update, text)


async def unwatch(update: Update, context: Context) -> None:
    """/unwatch <id or name>"""
    if not await may_configure(update, context):
        await reply(update, ADMINS_ONLY)
        return
    await reply(update, await _service(context).unwatch(chat_ref(update), raw_args(update)))


def add_watch_handlers(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Register /watch, /watches and /unwatch (before the catch-all for unknown commands)."""
    commands: list[tuple[str, Handler]] = [("watch", watch), ("watches", watches), ("unwatch", unwatch)]
    for name, callback in commands:
        app.add_handler(CommandHandler(name, callback))
