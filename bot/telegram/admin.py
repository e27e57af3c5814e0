"""Admin commands: thin python-telegram-bot callbacks over AdminService.

Every callback checks, on every call, that the sender's Telegram user id is in ADMIN_IDS; anyone else
gets a polite refusal and nothing changes. The service lives in `application.bot_data["admin"]`
(set once the scheduler is up; a command arriving before that is asked to wait a moment).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update
from telegram.ext import Application, CommandHandler

from bot.admin import AdminService, parse_addfeed_args
from bot.delivery.render import clip, esc
from bot.errors import CommandError
from bot.telegram.handlers import Context, Handler, reply
from bot.telegram.trend import send_stats_chart

log = logging.getLogger(__name__)

NOT_ADMIN = "Sorry, this command is for the bot's admins."
STARTING = "Still starting up; try again in a few seconds."
ERROR_MAX = 1000  # characters of a refusal's reason (it may quote what was typed)

AdminAction = Callable[[AdminService, str, list[str]], Awaitable[str | list[str]]]


def raw_args(update: Update) -> str:
    """The command's text after the command word, as typed (queries keep their quotes and spacing)."""
    msg = update.effective_message
    text = (msg.text or "") if msg is not None else ""
    parts = text.split(None, 1)
    return parts[1] if len(parts) > 1 else ""


def admin_command(action: AdminAction, then: Handler | None = None) -> Handler:
    """Wrap an action: admin check, call the service, reply (several messages when long), refusals as text;
    `then` runs after the replies (the /stats chart)."""

    async def handler(update: Update, context: Context) -> None:
        user = update.effective_user
        if user is None or user.id not in context.application.bot_data.get("admin_ids", ()):
            log.info("admin command refused: user %s is not an admin", user.id if user else None)
            await reply(update, NOT_ADMIN)
            return
        svc: AdminService | None = context.application.bot_data.get("admin")
        if svc is None:
            await reply(update, STARTING)
            return
        try:
            answer = await action(svc, raw_args(update), list(context.args or []))
        except CommandError as e:
            answer = f"Not done: {esc(clip(str(e), ERROR_MAX))}"
        for text in [answer] if isinstance(answer, str) else answer:
            await reply(update, text)
        if then is not None:
            await then(update, context)

    return handler


# command -> what it does with (service, the text after the command, its words)
ACTIONS: dict[str, AdminAction] = {
    "feeds": lambda svc, raw, args: svc.feeds(raw),
    "addfeed": lambda svc, raw, args: svc.add_feed(*parse_addfeed_args(args)),
    "rmfeed": lambda svc, raw, args: svc.remove_feed(raw),
    "pausefeed": lambda svc, raw, args: svc.set_paused(raw, True),
    "resumefeed": lambda svc, raw, args: svc.set_paused(raw, False),
    "alltopics": lambda svc, raw, args: svc.all_topics(),
    "addtopic": lambda svc, raw, args: svc.add_topic(raw),
    "rmtopic": lambda svc, raw, args: svc.remove_topic(raw),
    "testquery": lambda svc, raw, args: svc.test_query(raw),
    "stats": lambda svc, raw, args: svc.stats(),
}


AFTER: dict[str, Handler] = {"stats": send_stats_chart}  # what follows a command's text


def add_admin_handlers(app: Application[Any, Any, Any, Any, Any, Any], admin_ids: tuple[int, ...]) -> None:
    """Register the admin commands (before the catch-all for unknown commands)."""
    app.bot_data["admin_ids"] = admin_ids
    for name, action in ACTIONS.items():
        app.add_handler(CommandHandler(name, admin_command(action, AFTER.get(name))))
