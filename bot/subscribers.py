"""What subscriber commands do: each takes the chat and the command's words, changes the chat's
settings, and returns the reply (Telegram HTML). The Telegram handlers only parse updates and reply.
"""

from __future__ import annotations

import difflib
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.dates import format_when
from bot.delivery.messages import order_names
from bot.delivery.render import ECHO_MAX, clip, echo, esc
from bot.models import Subscriber, Topic
from bot.schedule_rules import next_digest_at, parse_clock_times
from storage.db import AsyncDB, utcnow
from storage.outbox import convert_pending
from storage.subscribers import (
    delete_subscriber,
    get_subscriber,
    start_subscriber,
    subscribe,
    topics_of,
    unsubscribe,
    update_subscriber,
)

COMMANDS: list[tuple[str, str]] = [
    ("start", "subscribe this chat"),
    ("topics", "the topics, with buttons to follow or unfollow"),
    ("subscribe", "follow topics: /subscribe rutte peskov"),
    ("unsubscribe", "stop following topics"),
    ("mode", "instant alerts or digests: /mode digest"),
    ("digest", "digest times: /digest 08:00 18:00"),
    ("timezone", "your time zone: /timezone Europe/Kyiv"),
    ("pause", "pause delivery"),
    ("resume", "resume delivery"),
    ("watch", "watch your own query: /watch kursk: курск* OR kursk"),
    ("watches", "this chat's watches"),
    ("unwatch", "stop a watch: /unwatch kursk"),
    ("status", "what this chat follows and when"),
    ("trend", "a chart of a topic's stories: /trend rutte 7d"),
    ("surge", "alerts when a topic takes off: /surge on"),
    ("latest", "the newest stories of a topic: /latest rutte"),
    ("stop", "unsubscribe and forget this chat"),
    ("help", "how to use this bot"),
]

NOT_STARTED = "This chat is not subscribed yet. Send /start first."
SHOWN_UNKNOWN = 10  # unknown words quoted back, at most


@dataclass
class Catalog:
    """The topics and delivery defaults from feeds.yaml (replaced on a hot reload)."""

    topics: tuple[Topic, ...] = ()
    timezone: str = "UTC"
    digest_times: tuple[str, ...] = ("08:00", "18:00")
    names: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.names = {t.id: t.name for t in self.topics}

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        """The default time zone."""
        return zoneinfo.ZoneInfo(self.timezone)

    def reload(self, topics: tuple[Topic, ...], timezone: str, digest_times: tuple[str, ...]) -> None:
        """Take the topics and defaults of a reloaded feeds.yaml (everyone holding this catalog sees them)."""
        self.topics, self.timezone, self.digest_times = topics, timezone, digest_times
        self.__post_init__()

    def resolve(self, words: Sequence[str]) -> tuple[list[str], list[str]]:
        """Topic ids for words naming topics (id or name, any case; 'all' for every one), and the unknown words."""
        by_word = {t.id.casefold(): t.id for t in self.topics} | {t.name.casefold(): t.id for t in self.topics}
        found: list[str] = []
        unknown: list[str] = []
        for w in words:
            key = w.strip(",").casefold()
            if key == "all":
                found += [t.id for t in self.topics if t.id not in found]
            elif key in by_word:
                if by_word[key] not in found:
                    found.append(by_word[key])
            elif key:
                unknown.append(w)
        return found, unknown

    def listing(self) -> str:
        """The topics as 'id (name)' lines."""
        return "\n".join(f"• <code>{esc(t.id)}</code> — {esc(t.name)}" for t in self.topics) or "(no topics configured)"


@dataclass(frozen=True)
class ChatRef:
    """Where a command came from."""

    chat_id: int
    thread_id: int | None = None
    kind: str = "private"
    title: str | None = None


def help_text(admin_commands: Sequence[tuple[str, str]] = ()) -> str:
    """The command list (and the admin commands, for an admin)."""
    lines = ["I watch news feeds and Telegram channels and tell you about new stories on the topics you follow.", ""]
    lines += [f"/{name} — {esc(desc)}" for name, desc in COMMANDS]
    if admin_commands:
        lines += ["", "<b>For admins</b>"]
        lines += [f"/{name} — {esc(desc.removeprefix('admin: '))}" for name, desc in admin_commands]
    return "\n".join(lines)


class SubscriberService:
    """Subscriber commands over the database."""

    def __init__(self, db: AsyncDB, catalog: Catalog, clock: Callable[[], datetime] = utcnow) -> None:
        self.db, self.catalog, self.clock = db, catalog, clock

    async def start(self, chat: ChatRef) -> str:
        """Subscribe the chat (or welcome it back) and explain how to choose topics."""
        _, created = await self.db.run(start_subscriber, chat.chat_id, chat.thread_id, chat.kind, chat.title, self.clock())
        if created:
            await self.db.run(
                update_subscriber, chat.chat_id, timezone=self.catalog.timezone, digest_times=self.catalog.digest_times
            )
        followed = await self.db.run(topics_of, chat.chat_id)
        head = "Welcome! This chat is subscribed." if created else "Welcome back! This chat is subscribed again."
        choose = (
            f"You follow: {esc(', '.join(self._names(followed)))}."
            if followed
            else "Choose what to follow with /topics, or /subscribe followed by topic ids, for example "
            f"<code>/subscribe {esc(self.catalog.topics[0].id) if self.catalog.topics else 'topic'}</code>."
        )
        return f"{head}\n\nTopics:\n{self.catalog.listing()}\n\n{choose}\nAlerts come as they happen; /mode digest for a daily summary. /help for more."

    async def topics_view(self, chat_id: int) -> tuple[str, list[tuple[str, str]]]:
        """The catalog with the chat's choices marked, and (label, topic id) buttons to toggle them."""
        followed = set(await self.db.run(topics_of, chat_id))
        lines = ["Topics (✅ = followed):"]
        buttons = []
        for t in self.catalog.topics:
            mark = "✅" if t.id in followed else "▫️"
            lines.append(f"{mark} <code>{esc(t.id)}</code> — {esc(t.name)}")
            buttons.append((f"{'✅ ' if t.id in followed else '➕ '}{t.name}", t.id))
        if not self.catalog.topics:
            lines.append("(no topics configured)")
        return "\n".join(lines), buttons

    async def toggle(self, chat: ChatRef, topic_id: str) -> str:
        """Follow or unfollow one topic (an inline button); return a short notice."""
        if topic_id not in self.catalog.names:
            return "That topic no longer exists."
        await self._ensure(chat)
        if await self.db.run(unsubscribe, chat.chat_id, [topic_id]):
            return f"Unfollowed {self.catalog.names[topic_id]}"
        await self.db.run(subscribe, chat.chat_id, [topic_id])
        return f"Following {self.catalog.names[topic_id]}"

    async def subscribe(self, chat: ChatRef, words: Sequence[str]) -> str:
        """/subscribe topic..."""
        if not words:
            return f"Which topics? For example <code>/subscribe {self._example()}</code>.\n\n{self.catalog.listing()}"
        found, unknown = self.catalog.resolve(words)
        if unknown:
            return self._unknown(unknown)
        await self._ensure(chat)
        added = await self.db.run(subscribe, chat.chat_id, found)
        now = await self.db.run(topics_of, chat.chat_id)
        head = f"Now following: {esc(', '.join(self._names(added)))}." if added else "You already follow those."
        return f"{head}\nAll your topics: {esc(', '.join(self._names(now)))}."

    async def unsubscribe(self, chat: ChatRef, words: Sequence[str]) -> str:
        """/unsubscribe topic..."""
        if await self.db.run(get_subscriber, chat.chat_id) is None:
            return NOT_STARTED
        if not words:
            return f"Which topics? For example <code>/unsubscribe {self._example()}</code>, or <code>/unsubscribe all</code>."
        found, unknown = self.catalog.resolve(words)
        if unknown:
            return self._unknown(unknown)
        removed = await self.db.run(unsubscribe, chat.chat_id, found)
        left = await self.db.run(topics_of, chat.chat_id)
        head = f"Stopped following: {esc(', '.join(self._names(removed)))}." if removed else "You did not follow those."
        return f"{head}\nStill following: {esc(', '.join(self._names(left))) or 'nothing'}."

    async def set_mode(self, chat: ChatRef, words: Sequence[str]) -> str:
        """/mode instant|digest"""
        sub = await self.db.run(get_subscriber, chat.chat_id)
        if sub is None:
            return NOT_STARTED
        if len(words) != 1 or words[0].lower() not in ("instant", "digest"):
            return "Use <code>/mode instant</code> (an alert per story) or <code>/mode digest</code> (a summary at your digest times)."
        mode = words[0].lower()
        sub = await self._apply_mode(sub, mode)
        if mode == "instant":
            return "Instant mode: you get one alert per new story."
        return f"Digest mode: a summary at {', '.join(sub.digest_times)} ({esc(sub.timezone)}). Next: {self._when(sub)}."

    async def set_digest(self, chat: ChatRef, words: Sequence[str]) -> str:
        """/digest HH:MM ... (also switches to digest mode)"""
        sub = await self.db.run(get_subscriber, chat.chat_id)
        if sub is None:
            return NOT_STARTED
        if not words:
            return "Give one or more times of day, for example <code>/digest 08:00 18:00</code>."
        try:
            times = parse_clock_times([clip(w, ECHO_MAX) for w in words])  # the error quotes the word
        except ValueError as e:
            return f"{esc(str(e))}. For example <code>/digest 08:00 18:00</code>."
        if len(times) > 12:
            return "At most 12 digests a day, please."
        sub = await self.db.run(update_subscriber, chat.chat_id, digest_times=times)
        assert sub is not None
        sub = await self._apply_mode(sub, "digest")
        return f"Digests at {', '.join(times)} ({esc(sub.timezone)}). Next: {self._when(sub)}."

    async def set_timezone(self, chat: ChatRef, words: Sequence[str]) -> str:
        """/timezone Area/City"""
        sub = await self.db.run(get_subscriber, chat.chat_id)
        if sub is None:
            return NOT_STARTED
        if len(words) != 1:
            return "Give an IANA time zone name, for example <code>/timezone Europe/Kyiv</code> or <code>/timezone UTC</code>."
        zone = _find_zone(words[0])
        if zone is None:
            near = difflib.get_close_matches(words[0], sorted(zoneinfo.available_timezones()), n=3, cutoff=0.6)
            hint = f" Did you mean {', '.join(f'<code>{esc(n)}</code>' for n in near)}?" if near else ""
            return f"Unknown time zone <code>{echo(words[0])}</code>.{hint} Use a name like Europe/Kyiv, Europe/Paris, Asia/Seoul or UTC."
        sub = await self.db.run(update_subscriber, chat.chat_id, timezone=zone)
        assert sub is not None
        sub = await self._reschedule(sub)
        tail = f" Next digest: {self._when(sub)}." if sub.mode == "digest" else ""
        return f"Time zone set to {esc(zone)}.{tail}"

    async def pause(self, chat: ChatRef, paused: bool) -> str:
        """/pause and /resume"""
        if await self.db.run(get_subscriber, chat.chat_id) is None:
            return NOT_STARTED
        await self.db.run(update_subscriber, chat.chat_id, paused=int(paused))
        return "Paused: nothing is sent until /resume." if paused else "Resumed: new stories will reach you again."

    async def status(self, chat_id: int) -> str:
        """/status"""
        sub = await self.db.run(get_subscriber, chat_id)
        if sub is None:
            return NOT_STARTED
        followed = await self.db.run(topics_of, chat_id)
        lines = [
            f"Following: {esc(', '.join(self._names(followed))) or 'nothing yet (see /topics)'}",
            f"Mode: {sub.mode}" + (" (paused)" if sub.paused else ""),
            f"Time zone: {esc(sub.timezone)}",
        ]
        if sub.mode == "digest":
            lines.append(f"Digest times: {', '.join(sub.digest_times)}; next: {self._when(sub)}")
        return "\n".join(lines)

    async def stop(self, chat_id: int) -> str:
        """/stop: forget the chat."""
        if not await self.db.run(delete_subscriber, chat_id):
            return NOT_STARTED
        return "Unsubscribed, and this chat's settings are deleted. /start to come back."

    async def _ensure(self, chat: ChatRef) -> None:
        if await self.db.run(get_subscriber, chat.chat_id) is None:
            await self.start(chat)

    async def _apply_mode(self, sub: Subscriber, mode: str) -> Subscriber:
        updated = await self.db.run(update_subscriber, sub.chat_id, mode=mode)
        assert updated is not None
        await self.db.run(convert_pending, sub.chat_id, "digest" if mode == "digest" else "alert")
        return await self._reschedule(updated)

    async def _reschedule(self, sub: Subscriber) -> Subscriber:
        nxt = next_digest_at(sub.digest_times, sub.timezone, self.clock()) if sub.mode == "digest" else None
        updated = await self.db.run(update_subscriber, sub.chat_id, next_digest_at=nxt)
        assert updated is not None
        return updated

    def _when(self, sub: Subscriber) -> str:
        if sub.next_digest_at is None:
            return "not scheduled"
        return format_when(sub.next_digest_at, self.clock(), sub.timezone)  # "today 18:00", "tomorrow 08:00"

    def _names(self, ids: Sequence[str]) -> list[str]:
        """Topic names in one order everywhere: the catalog's (see order_names)."""
        return order_names(ids, self.catalog.names)

    def _example(self) -> str:
        return esc(self.catalog.topics[0].id) if self.catalog.topics else "topic"

    def _unknown(self, words: Sequence[str]) -> str:
        shown = ", ".join(f"<code>{echo(w)}</code>" for w in words[:SHOWN_UNKNOWN])
        if len(words) > SHOWN_UNKNOWN:
            shown += f" and {len(words) - SHOWN_UNKNOWN} more"
        return f"Unknown topic {shown}. The topics are:\n{self.catalog.listing()}"


def _find_zone(name: str) -> str | None:
    """The canonical spelling of an IANA zone, matched without regard to case."""
    zones = {z.casefold(): z for z in zoneinfo.available_timezones()}
    return zones.get(name.strip().casefold())
