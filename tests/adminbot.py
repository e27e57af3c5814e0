"""The bot running for the admin tests: `run_forever` in this event loop with the real python-telegram-bot
client against the Bot API emulator, feeds from the local feed server, feeds.yaml a real file watched
by the real watcher; `Running` sends commands as an admin or a user and reads the replies."""

from __future__ import annotations

import asyncio
import io
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bot.app import run_forever
from bot.config import Settings, load_config
from bot.telegram.admin import STARTING
from tests.botapi import BotAPI
from tests.feedserver import FeedServer
from tests.test_telegram import until

ADMIN = 4242
USER = 111


def config_text(*feeds: tuple[str, str], interval: str = "1s") -> str:
    lines = [
        "# Newswatch test config",
        "settings:",
        "  timezone: UTC  # digests in UTC",
        "",
        "topics:",
        "  # the NATO one",
        "  - id: rutte",
        "    name: Mark Rutte",
        "    query: rutte OR рютте",
        "  - id: peskov",
        "    query: peskov OR песков",
        "",
        "feeds:",
        "  # wires first",
    ]
    for name, url in feeds:
        lines += [f"  - name: {name}", f"    url: {url}", f"    interval: {interval}"]
    return "\n".join(lines) + "\n"


def story(n: int, title: str) -> dict[str, str]:
    return {"title": title, "link": f"https://news.example/{n}", "guid": str(n)}


@dataclass
class Running:
    settings: Settings
    api: BotAPI
    server: FeedServer

    @property
    def path(self) -> Path:
        return self.settings.config_path

    async def command(self, text: str, user: int = ADMIN, chat: int | None = None, **kw: Any) -> str:
        """Send a command and return the bot's (first) reply."""
        chat_id = chat if chat is not None else user
        before = len(self.api.messages(chat_id))
        self.api.user_sends(chat_id, text, user_id=user, **kw)
        await until(lambda: len(self.api.messages(chat_id)) > before, 15)
        return self.api.messages(chat_id)[before].text

    async def replies(self, text: str, count: int) -> list[str]:
        """Send an admin command answered in `count` messages; return them."""
        before = len(self.api.messages(ADMIN))
        self.api.user_sends(ADMIN, text)
        await until(lambda: len(self.api.messages(ADMIN)) >= before + count, 15)
        return [m.text for m in self.api.messages(ADMIN)[before:]]

    def notices(self) -> list[str]:
        """Messages the admin got without asking (health and config notices)."""
        return [m.text for m in self.api.messages(ADMIN) if m.text.startswith("⚠️")]

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(self.settings.db_path)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()


@asynccontextmanager
async def running(settings: Settings, api: BotAPI, server: FeedServer, text: str, **over: Any) -> AsyncIterator[Running]:
    settings.config_path.write_text(text, encoding="utf-8")
    over = {"notice_delay_s": 0.2} | over
    settings = replace(settings, bot_token="123:TEST", api_url=api.base_url, admin_ids=(ADMIN,), **over)
    stop = asyncio.Event()
    task = asyncio.create_task(run_forever(settings, load_config(settings.config_path), stop, out=io.StringIO()))
    bot = Running(settings, api, server)
    try:
        while await bot.command("/stats") == STARTING:
            await asyncio.sleep(0.05)
        yield bot
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
