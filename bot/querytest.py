"""What a query would have matched among the newest stored items (/testquery, and a new /watch).

Nothing is saved: the items are read, the query is compiled on its own and matched in a thread, and
the answer lists the first matches with their feed, time and matched words.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.delivery.render import esc, shorten, split_message
from bot.health import format_time
from bot.matching.matcher import Matcher
from bot.models import Topic
from bot.wording import count
from storage.db import AsyncDB, utcnow
from storage.items import recent_items

TEST_ITEMS = 500  # the newest stored items a query is tried on
SHOWN_MATCHES = 10

Found = list[tuple[tuple[str, str, str | None, str, datetime | None], tuple[str, ...]]]


async def match_recent(db: AsyncDB, query: str, limit: int = TEST_ITEMS) -> tuple[Found, int]:
    """(the matching items with their matched terms, how many items were tried); the query must parse."""
    items = await db.run(recent_items, limit)
    matcher = Matcher([Topic("test", "test", query)])

    def run() -> Found:
        found = []
        for it in items:
            matches = matcher.match(it[0], it[1], it[3])
            if matches:
                found.append((it, matches[0].terms))
        return found

    return await asyncio.to_thread(run), len(items)


async def test_query_lines(db: AsyncDB, query: str, zone: ZoneInfo, limit: int = TEST_ITEMS) -> list[str]:
    """The answer, in Telegram HTML messages: how many of the newest items match, and the first ones."""
    found, tried = await match_recent(db, query, limit)
    now = utcnow()
    verb = "matches" if len(found) == 1 else "match"
    lines = [f"<b>{len(found)} of the last {count(tried, 'item')} {verb}</b> <code>{esc(query)}</code>"]
    for (title, _text, url, feed, when), terms in found[:SHOWN_MATCHES]:
        link = f'<a href="{esc(url)}">{esc(shorten(title, 120))}</a>' if url else esc(shorten(title, 120))
        lines.append(f"• {link}\n  {esc(feed)} · {format_time(when, zone, now)} · {esc(', '.join(terms))}")
    if len(found) > SHOWN_MATCHES:
        lines.append(f"+{len(found) - SHOWN_MATCHES} more")
    return split_message(lines)
