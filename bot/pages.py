"""Story pages: the stories behind a "+N more" button, and /latest, shown a page at a time.

A page is a slice of a stored story list (storage/story_lists.py), so each story of a list is on
exactly one page, and a button (whose callback data holds only the list's id and a page number, see
bot/delivery/messages.py) keeps working after a restart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.delivery.messages import page_data, render_page
from bot.delivery.render import echo, esc
from bot.subscribers import Catalog
from storage.db import AsyncDB, utcnow
from storage.story_lists import create_story_list, get_story_list, latest_story_ids, story_views
from storage.subscribers import get_subscriber

PAGE_SIZE = 10
LATEST_MAX = 50  # stories /latest keeps in its list
EXPIRED = "This list is no longer kept. /latest followed by a topic shows its newest stories."


@dataclass(frozen=True)
class Page:
    """A page's text and its (label, callback data) buttons."""

    text: str
    buttons: list[tuple[str, str]] = field(default_factory=list)


class StoryPages:
    """Pages of stored story lists, and /latest."""

    def __init__(self, db: AsyncDB, catalog: Catalog, clock: Callable[[], datetime] = utcnow, page_size: int = PAGE_SIZE):
        self.db, self.catalog, self.clock, self.page_size = db, catalog, clock, page_size

    async def page(self, chat_id: int, list_id: int, page: int) -> Page | None:
        """Page `page` (from 0) of a list of this chat; None when the list is gone or not this chat's."""
        stored = await self.db.run(get_story_list, list_id)
        if stored is None or stored.chat_id != chat_id:
            return None
        pages = max(1, -(-len(stored.story_ids) // self.page_size))
        page = min(max(page, 0), pages - 1)
        ids = stored.story_ids[page * self.page_size : (page + 1) * self.page_size]
        stories = await self.db.run(story_views, ids)
        zone = await self._zone(chat_id)
        start = stored.shown_before + page * self.page_size
        text = render_page(stored.title, stored.origin, stories, start, stored.total, zone, self.clock(), stored.created_at)
        return Page(text, _nav(list_id, page, pages))

    async def latest(self, chat_id: int, words: Sequence[str]) -> Page:
        """/latest topic: the topic's newest stories, a page at a time."""
        found, unknown = self.catalog.resolve([" ".join(words)])  # a name of several words: "Mark Rutte"
        if unknown and len(words) > 1:
            found, unknown = self.catalog.resolve(words)
        if not words or unknown or len(found) != 1:
            example = esc(self.catalog.topics[0].id) if self.catalog.topics else "topic"
            said = f"Unknown topic <code>{echo(' '.join(unknown))}</code>. " if unknown else ""
            return Page(f"{said}Name one topic, for example <code>/latest {example}</code>.\n\n{self.catalog.listing()}")
        topic = found[0]
        name = self.catalog.names.get(topic, topic)
        ids = await self.db.run(latest_story_ids, topic, LATEST_MAX)
        if not ids:
            return Page(f"No stories about {esc(name)} yet.")
        list_id = await self.db.run(create_story_list, chat_id, "latest", name, ids, 0, len(ids), self.clock())
        page = await self.page(chat_id, list_id, 0)
        assert page is not None
        return page

    async def _zone(self, chat_id: int) -> str:
        sub = await self.db.run(get_subscriber, chat_id)
        return sub.timezone if sub is not None else self.catalog.timezone


def _nav(list_id: int, page: int, pages: int) -> list[tuple[str, str]]:
    buttons = []
    if page > 0:
        buttons.append(("‹ Previous", page_data(list_id, page - 1)))
    if page + 1 < pages:
        buttons.append((f"Next › ({page + 2}/{pages})", page_data(list_id, page + 1)))
    return buttons
