"""The python-telegram-bot Application: built from Settings, started and stopped by bot.app.

TELEGRAM_API_URL is PTB's base_url, so the bot talks to any Bot API server (the public one, a local
telegram-bot-api, or the tests' emulator). The send gate sits under every call as PTB's rate limiter
(bot/telegram/flow.py), and updates are handled concurrently, in order within each chat.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import BotCommand, BotCommandScopeChat, Update
from telegram.error import TelegramError
from telegram.ext import Application, ContextTypes

from bot.admin import ADMIN_COMMANDS
from bot.config import Settings
from bot.delivery.gate import SendGate
from bot.delivery.gatelog import GateJournal
from bot.delivery.outbox import Notify
from bot.telegram.flow import GateRateLimiter, PerChatUpdateProcessor
from bot.telegram.handlers import add_fallback_handler, add_subscriber_handlers, bot_commands
from bot.telegram.stories import add_story_handlers
from bot.telegram.trend import add_trend_handlers
from bot.telegram.watches import add_watch_handlers

log = logging.getLogger(__name__)

TelegramApp = Application[Any, Any, Any, Any, Any, Any]


def build_application(settings: Settings, gate: SendGate, journal: GateJournal | None = None) -> TelegramApp:
    """An Application for the token in settings, against settings.api_url, every call through `gate`
    (and its hold and group windows kept in `journal`)."""
    assert settings.bot_token, "build_application needs TELEGRAM_BOT_TOKEN"
    builder = (
        Application.builder()
        .token(settings.bot_token)
        .base_url(settings.api_url)
        .concurrent_updates(PerChatUpdateProcessor())
        .rate_limiter(GateRateLimiter(gate, journal))  # type: ignore[arg-type]  # PTB types the builder's limiter as [None]
    )
    app: TelegramApp = builder.build()
    return app


def register_handlers(app: TelegramApp, extra: Callable[[TelegramApp], None] | None = None) -> None:
    """Every handler, in order: subscriber and watch commands, trends, story lists (/latest, "+N more"),
    then `extra` (admin commands), then the catch-all."""
    add_subscriber_handlers(app)
    add_watch_handlers(app)
    add_trend_handlers(app)
    add_story_handlers(app)
    if extra is not None:
        extra(app)
    add_fallback_handler(app)


def error_handler(notify: Notify) -> Callable[[object, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]:
    """The one global handler: log the error and tell the admins."""

    async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram: error while handling %s", update, exc_info=context.error)
        where = ""
        if isinstance(update, Update) and update.effective_chat is not None:
            where = f" in chat {update.effective_chat.id}"
        await notify(f"Error{where}: {html.escape(repr(context.error))}")

    return on_error


async def start_application(app: TelegramApp, admin_ids: tuple[int, ...] = ()) -> None:
    """Initialise (getMe), publish the command lists (admins see theirs too), start long polling and handlers."""
    await app.initialize()
    await app.bot.set_my_commands(bot_commands())
    admin_list = bot_commands() + [BotCommand(name, desc) for name, desc in ADMIN_COMMANDS]
    for admin in admin_ids:
        try:
            await app.bot.set_my_commands(admin_list, scope=BotCommandScopeChat(admin))
        except TelegramError as e:  # an admin who never opened a chat with the bot: "chat not found"
            log.warning("telegram: admin command list not set for %s: %s", admin, e)
    assert app.updater is not None
    await app.updater.start_polling(allowed_updates=Update.ALL_TYPES, timeout=10)
    await app.start()
    log.info("telegram: polling as @%s", app.bot.username)


async def stop_application(app: TelegramApp, gate: SendGate) -> None:
    """Close the gate (nothing waits for a window or a flood hold any more), stop polling and handlers,
    then close the HTTP clients."""
    gate.close()
    if app.updater is not None and app.updater.running:
        await app.updater.stop()
    if app.running:
        await app.stop()
    await app.shutdown()
