"""/trend and /surge: thin python-telegram-bot callbacks over TrendService and the surge opt-in.

/trend answers with a photo (the chart) and a short caption, in the chat's time zone (the bot's
default for a chat that never sent /start); bad input gets a one-line text answer. /surge on|off opts
the chat in to surge alerts (in groups: administrators only, like every setting).
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import Update
from telegram.constants import ParseMode
from telegram.error import RetryAfter
from telegram.ext import Application, CommandHandler

from bot.errors import CommandError, SendFailed
from bot.subscribers import NOT_STARTED, SubscriberService
from bot.telegram.handlers import Context, chat_ref, may_configure, reply
from bot.trends.service import TrendService
from storage.subscribers import get_subscriber
from storage.surges import has_surge_alerts, set_surge_alerts

log = logging.getLogger(__name__)

SURGE_USAGE = "Usage: /surge on or /surge off (now: {state})."


async def trend(update: Update, context: Context) -> None:
    """/trend topic-or-watch [7d|30d|90d]"""
    svc: TrendService = context.application.bot_data["trends"]
    msg = update.effective_message
    if msg is None:
        return
    sub = await svc.db.run(get_subscriber, chat_ref(update).chat_id)
    zone = sub.timezone if sub is not None else svc.catalog.timezone
    try:
        answer = await svc.trend(list(context.args or []), zone, chat_ref(update).chat_id)
    except CommandError as e:
        await reply(update, str(e))
        return
    try:
        await msg.reply_photo(answer.png, caption=answer.caption, parse_mode=ParseMode.HTML, do_quote=False)
    except (RetryAfter, SendFailed) as e:
        log.warning("telegram: chart for chat %s not sent: %s", msg.chat_id, e)


async def send_stats_chart(update: Update, context: Context) -> None:
    """After /stats' text (admins only, checked by the caller): the chart of items, hits and failing feeds."""
    svc: TrendService = context.application.bot_data["trends"]
    msg = update.effective_message
    if msg is None:
        return
    answer = await svc.health()
    try:
        await msg.reply_photo(answer.png, caption=answer.caption, parse_mode=ParseMode.HTML, do_quote=False)
    except (RetryAfter, SendFailed) as e:
        log.warning("telegram: stats chart for chat %s not sent: %s", msg.chat_id, e)


async def surge(update: Update, context: Context) -> None:
    """/surge on|off"""
    subscribers: SubscriberService = context.application.bot_data["subscribers"]
    chat = chat_ref(update).chat_id
    db = subscribers.db
    state = "on" if await db.run(has_surge_alerts, chat) else "off"
    words = [w.lower() for w in context.args or []]
    if words not in (["on"], ["off"]):
        await reply(update, SURGE_USAGE.format(state=state))
        return
    if not await may_configure(update, context):
        await reply(update, "Only this group's administrators can change its settings.")
        return
    if await db.run(get_subscriber, chat) is None:
        await reply(update, NOT_STARTED)
        return
    await db.run(set_surge_alerts, chat, words == ["on"], subscribers.clock())
    if words == ["on"]:
        text = "Surge alerts on: when a topic you follow takes off (many more stories than usual at this hour), you get a chart."
    else:
        text = "Surge alerts off."
    await reply(update, text)


def add_trend_handlers(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Register /trend and /surge (before the catch-all for unknown commands)."""
    app.add_handler(CommandHandler("trend", trend))
    app.add_handler(CommandHandler("surge", surge))
