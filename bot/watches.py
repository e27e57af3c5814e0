"""What the personal watch commands do: /watch, /watches, /unwatch (replies in Telegram HTML).

A watch is a chat's own query, in the topics' query language, matched against every new item and
delivered to that chat only, in its mode (instant or digest). Limits keep a public bot healthy: at
most `max_watches` per chat, `watch_max_chars` characters and `watch_max_terms` words or phrases per
query (the query parser's own bounds apply too). Who may change a group's watches is checked by the
Telegram handlers (its administrators).

    /watch <query>               /watch курск* OR kursk OR 쿠르스크
    /watch <name>: <query>       /watch kursk: курск* OR kursk OR 쿠르스크
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.delivery.render import clip, echo, esc, shorten, split_message
from bot.errors import QueryError
from bot.matching.query import iter_terms, parse_query
from bot.models import Watch
from bot.querytest import TEST_ITEMS, test_query_lines
from bot.subscribers import ChatRef, SubscriberService
from storage.db import AsyncDB, utcnow
from storage.subscribers import get_subscriber
from storage.watches import add_watch, find_watch, list_watches, remove_watch, watch_story_counts

COUNT_DAYS = 7  # /watches counts the stories each watch matched in this many days
NAME_MAX = 32
_NAMED = re.compile(rf'^([^\s:()"*-][^\s:()"]{{0,{NAME_MAX - 1}}}):\s+(.+)$', re.DOTALL)
EXAMPLES = (
    "<code>/watch kursk: курск* OR kursk OR 쿠르스크</code>\n"
    '<code>/watch "north korean" troops -sport</code>\n'
    "<code>/watch title:rutte</code>"
)
QUERY_HELP = (
    "Words match any form (troops = troop, Пескова = Песков); "
    '"two words" is a phrase, OR is either, -word excludes, pref* is a prefix, '
    "title:word looks in titles only."
)


@dataclass(frozen=True)
class WatchLimits:
    """The caps on watches (Settings: NEWSWATCH_MAX_WATCHES, _WATCH_MAX_CHARS, _WATCH_MAX_TERMS)."""

    per_chat: int = 20
    max_chars: int = 500
    max_terms: int = 20


def split_name(text: str) -> tuple[str | None, str]:
    """'kursk: курск* OR kursk' -> ('kursk', 'курск* OR kursk'); no 'name: ' before the query -> (None, text)."""
    text = text.strip()
    m = _NAMED.match(text)
    if m and not m.group(1).isdigit():
        return m.group(1), m.group(2).strip()
    return None, text


def check_watch_query(query: str, limits: WatchLimits) -> str | None:
    """Why the query cannot be a watch (plain text, with the position of a syntax error), or None."""
    if len(query) > limits.max_chars:
        return f"the query is {len(query)} characters long; a watch takes at most {limits.max_chars}."
    try:
        terms = len(iter_terms(parse_query(query)))
    except QueryError as e:
        return str(e).removeprefix("query: ")
    if terms > limits.max_terms:
        return f"the query has {terms} words and phrases; a watch takes at most {limits.max_terms}."
    return None


class WatchService:
    """The watch commands over the database."""

    def __init__(
        self,
        db: AsyncDB,
        subscribers: SubscriberService,
        limits: WatchLimits | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db, self.subscribers, self.clock = db, subscribers, clock
        self.limits = limits or WatchLimits()

    async def watch(self, chat: ChatRef, text: str) -> list[str]:
        """/watch [name:] <query>: store the watch and show what it would have matched recently."""
        text = " ".join(text.split())
        if not text:
            return [f"Give a query to watch for, for example:\n{EXAMPLES}\n\n{esc(QUERY_HELP)}"]
        name, query = split_name(text)
        problem = check_watch_query(query, self.limits)
        if problem is not None:
            return [f"Not watched: {esc(clip(problem, 600))}\n\n{esc(QUERY_HELP)}"]
        if name is not None and await self.db.run(find_watch, chat.chat_id, name) is not None:
            return [f"This chat already has a watch named <code>{echo(name)}</code>; /unwatch it first or choose another name."]
        if await self.db.run(get_subscriber, chat.chat_id) is None:
            await self.subscribers.start(chat)
        watch = await self.db.run(add_watch, chat.chat_id, name, query, self.clock(), self.limits.per_chat)
        if watch is None:
            return [
                f"This chat has {self.limits.per_chat} watches, the most it may keep. "
                "/watches lists them; /unwatch one to make room."
            ]
        head = (
            f"👁 Watching <b>#{watch.id}</b> {_shown(watch)}. New stories that match come to this chat "
            f"(/mode: instant or digest). /unwatch {esc(name or str(watch.id))} to stop.\n\n"
            f"Among the last {TEST_ITEMS} stored items, it would have matched:"
        )
        return [head, *await test_query_lines(self.db, query, await self._zone(chat.chat_id))]

    async def watches(self, chat_id: int) -> list[str]:
        """/watches: this chat's watches with their ids and stories matched in the last 7 days."""
        found = await self.db.run(list_watches, chat_id)
        if not found:
            return [f"This chat has no watches. Add one with /watch, for example:\n{EXAMPLES}"]
        since = self.clock() - timedelta(days=COUNT_DAYS)
        counts = await self.db.run(watch_story_counts, [w.id for w in found], since)
        lines = [f"<b>Watches</b> ({len(found)} of {self.limits.per_chat}); stories matched in {COUNT_DAYS} days:"]
        for w in found:
            n = counts.get(w.id, 0)
            lines.append(f"<b>#{w.id}</b> {_shown(w)} · {n} {'story' if n == 1 else 'stories'}")
        lines.append("\n/unwatch &lt;id or name&gt; removes one.")
        return split_message(lines)

    async def unwatch(self, chat: ChatRef, text: str) -> str:
        """/unwatch <id or name>"""
        ref = text.strip()
        if not ref:
            return "Which watch? Give its id or name, for example <code>/unwatch 12</code>. /watches lists them."
        watch = await self.db.run(find_watch, chat.chat_id, ref)
        if watch is None or not await self.db.run(remove_watch, chat.chat_id, watch.id):
            return f"This chat has no watch <code>{echo(ref)}</code>. /watches lists its watches."
        return f"Removed watch <b>#{watch.id}</b> {_shown(watch)}."

    async def _zone(self, chat_id: int) -> zoneinfo.ZoneInfo:
        sub = await self.db.run(get_subscriber, chat_id)
        return zoneinfo.ZoneInfo(sub.timezone if sub else self.subscribers.catalog.timezone)


def _shown(w: Watch) -> str:
    query = f"<code>{esc(shorten(w.query, 200))}</code>"
    return f"<b>{esc(w.name)}</b>: {query}" if w.name else query
