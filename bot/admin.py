"""What admin commands do, for Telegram and the `feeds` CLI alike.

Each command checks its arguments, changes feeds.yaml through `bot.feedlist` (locked, validated,
written atomically, comments kept), then reloads, so a change made here is applied exactly like a
hand edit. Answers are Telegram HTML (the CLI prints them as plain text); a refusal raises
CommandError, whose message is plain text saying why. Who may run these is checked by the caller, on every call.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from bot.config import Config, Settings, parse_channel, parse_duration
from bot.delivery.render import esc, split_message
from bot.errors import CommandError, ConfigError, QueryError
from bot.feedlist import Edit, edit_feeds_file, find_feed
from bot.health import Condition, HealthPolicy, describe_condition, feed_condition, format_time
from bot.matching.query import parse_query
from bot.models import FeedConfig
from bot.opml import OpmlFeed
from bot.querytest import TEST_ITEMS, test_query_lines
from bot.sources.probe import FeedProbe
from bot.wording import TELEGRAM, Surface, count
from storage.db import AsyncDB, utcnow
from storage.feeds import FeedState, list_feed_states, resume_feed
from storage.items import feed_item_count, table_counts
from storage.outbox import outbox_counts
from storage.watches import watch_totals

T = TypeVar("T")

ADMIN_COMMANDS: list[tuple[str, str]] = [
    ("feeds", "admin: every feed with its health"),
    ("addfeed", "admin: /addfeed <url or @channel> [name] [interval]"),
    ("rmfeed", "admin: /rmfeed <number or name>"),
    ("pausefeed", "admin: stop polling a feed"),
    ("resumefeed", "admin: poll a paused feed again"),
    ("alltopics", "admin: every topic with its query"),
    ("addtopic", "admin: /addtopic <id> <query>"),
    ("rmtopic", "admin: /rmtopic <id>"),
    ("testquery", "admin: what a query matches in recent items"),
    ("stats", "admin: feeds, items, stories, hits, subscribers, deliveries"),
]

SHOWN_OK_FEEDS = 50  # /feeds lists healthy feeds a line each up to this many
_ORDER = [Condition.FAILING, Condition.PAUSED, Condition.STALE, Condition.NEW, Condition.OK]
_TOPIC_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


class ConfigHolder(Protocol):
    """The config in force and a way to re-read feeds.yaml (the running bot's LiveConfig, or the CLI's)."""

    @property
    def config(self) -> Config: ...

    @property
    def feed_ids(self) -> dict[str, int]: ...

    async def reload(self, *, force: bool = False) -> bool: ...


class AdminService:
    """Admin commands over feeds.yaml and the database."""

    def __init__(
        self,
        db: AsyncDB,
        settings: Settings,
        live: ConfigHolder,
        probe: FeedProbe | None,
        clock: Callable[[], datetime] = utcnow,
        surface: Surface = TELEGRAM,
    ) -> None:
        self.db, self.settings, self.live, self.probe, self.clock = db, settings, live, probe, clock
        self.surface = surface  # where the answers are read: hints name that place's commands
        self._lock = asyncio.Lock()

    async def _edit(self, change: Callable[[Edit], T]) -> T:
        """Apply `change` to feeds.yaml (one edit at a time), then reload."""
        config = self.live.config

        def run() -> T:
            with edit_feeds_file(config.path, self.settings.web_url) as edit:
                result = change(edit)
            return result

        async with self._lock:
            try:
                result = await asyncio.to_thread(run)
            except ConfigError as e:
                raise CommandError(f"{config.path.name} has an error; fix it first (nothing was changed): {e}") from e
            await self.live.reload(force=True)
        return result

    def _feed_label(self, feed: FeedConfig) -> str:
        return f"<b>#{self.live.feed_ids.get(feed.source, '?')} {esc(feed.name)}</b>"

    async def feeds(self, ref: str = "") -> list[str]:
        """/feeds: counts by health, the feeds that need attention in full, the healthy ones a line each.
        `/feeds all` shows every feed in full; `/feeds <feed>` one feed with its whole state."""
        config, now = self.live.config, self.clock()
        states = await self.db.run(list_feed_states)
        policy, zone = HealthPolicy.of(config), _zone(config)
        ref = ref.strip()
        if ref and ref.lower() != "all":
            index = find_feed(config.feeds, self.live.feed_ids, ref, self.surface.list_feeds)
            return [await self._one_feed(config.feeds[index], states, zone)]
        rows = []
        for f in config.feeds:
            state = states.get(self.live.feed_ids.get(f.source, -1))
            rows.append((f, state, feed_condition(state, f.enabled, now, policy) if state else Condition.NEW))
        counts: dict[Condition, int] = {}
        for _, _, cond in rows:
            counts[cond] = counts.get(cond, 0) + 1
        summary = ", ".join(f"{n} {c.value}" for c, n in sorted(counts.items(), key=lambda kv: _ORDER.index(kv[0])))
        blocks = [f"<b>{count(len(config.feeds), 'feed')}</b>: {summary or 'none'}"]
        noted = {f.source for f, st, _ in rows if st and st.note}  # read with a problem: shown in full
        attention = [r for r in rows if r[2] is not Condition.OK or r[0].source in noted]
        full = rows if ref else sorted(attention, key=lambda r: _ORDER.index(r[2]))
        for f, state, _cond in full:
            health = describe_condition(state, f.enabled, now, policy, zone) if state else "🕓 not polled yet"
            where = f"@{f.source.removeprefix('tg:')}" if f.kind == "telegram" else esc(f.url)
            note = f"\nNote: {esc(state.note)}" if state and state.note else ""
            blocks.append(f"\n{self._feed_label(f)} · every {format_duration(f.interval_s)}\n{where}\n{esc(health)}{note}")
        healthy = [] if ref else [(f, st) for f, st, cond in rows if cond is Condition.OK and f.source not in noted]
        if healthy:
            blocks.append("")
        for f, st in healthy[:SHOWN_OK_FEEDS]:
            last = format_time(st.last_new_item_at, zone, now) if st else "-"
            blocks.append(f"✅ {self._feed_label(f)} · last new item {last}")
        if len(healthy) > SHOWN_OK_FEEDS:
            more = count(len(healthy) - SHOWN_OK_FEEDS, "more ok feed")
            blocks.append(f"+{more}: {self.surface.list_all_feeds} lists every feed")
        if not config.feeds:
            blocks.append(f"No feeds yet: {self.surface.add_feed}")
        return split_message(blocks)

    async def _one_feed(self, f: FeedConfig, states: dict[int, FeedState], zone: ZoneInfo) -> str:
        config, now = self.live.config, self.clock()
        feed_id = self.live.feed_ids.get(f.source, -1)
        state = states.get(feed_id)
        where = f"@{f.source.removeprefix('tg:')} ({esc(f.url)})" if f.kind == "telegram" else esc(f.url)
        lines = [f"{self._feed_label(f)} · {f.kind} · every {format_duration(f.interval_s)}", where]
        if state is None:
            return "\n".join([*lines, "🕓 not polled yet"])
        items = await self.db.run(feed_item_count, feed_id)
        lines.append(esc(describe_condition(state, f.enabled, now, HealthPolicy.of(config), zone)))
        status = f" (HTTP {state.last_status})" if state.last_status else ""
        lines.append(
            f"Last poll {format_time(state.last_polled_at, zone, now)}{status}"
            f" · last success {format_time(state.last_ok_at, zone, now)}"
        )
        lines.append(f"{count(items, 'item')} stored · next poll {format_time(state.next_poll_at, zone, now)}")
        if state.url != f.url:
            lines.append(f"Moved permanently: read from {esc(state.url)}")
        if state.note:
            lines.append(f"Note: {esc(state.note)}")
        return "\n".join(lines)

    async def add_feed(self, where: str, name: str = "", interval: str = "", *, check: bool = True) -> str:
        """/addfeed: fetch the feed or channel once (unless not `check`) and refuse what is neither, then add it."""
        kind, value = _source_of(where)
        if interval:
            try:
                parse_duration(interval)
            except ValueError as e:
                raise CommandError(str(e)) from None
        source = f"tg:{value}" if kind == "telegram" else value
        self._refuse_duplicate(source)
        url = f"{self.settings.web_url.rstrip('/')}/s/{value}" if kind == "telegram" else value
        probe = await self.probe.probe(kind, url) if check and self.probe else None
        via = ""
        if probe is not None and kind == "rss" and probe.url != value:  # a web page that names its feed
            via, value = f" (found on {esc(url)})", probe.url
            source = value
            self._refuse_duplicate(source)
        name = name or (probe.title if probe and probe.title else "") or (f"@{value}" if kind == "telegram" else value)

        def change(edit: Edit) -> None:
            if kind == "telegram":
                edit.doc.add_feed(telegram=value, name=name, interval=interval)
            else:
                edit.doc.add_feed(url=value, name=name, interval=interval)

        await self._edit(change)
        added = next(f for f in self.live.config.feeds if f.source == source)
        found = f": {count(probe.items, 'item')} on it now" if probe else ""
        return f"Added {self._feed_label(added)} ({added.kind}, every {format_duration(added.interval_s)}){via}{found}."

    def _refuse_duplicate(self, source: str) -> None:
        for f in self.live.config.feeds:
            if f.source == source:
                raise CommandError(f"that feed is already there: #{self.live.feed_ids.get(f.source, '?')} {f.name}")

    async def remove_feed(self, ref: str) -> str:
        """/rmfeed <number or name>: remove it from feeds.yaml (its items and hits stay)."""
        ids = dict(self.live.feed_ids)

        def change(edit: Edit) -> FeedConfig:
            i = find_feed(edit.before.feeds, ids, ref, self.surface.list_feeds)
            edit.doc.remove_feed(i)
            return edit.before.feeds[i]

        feed = await self._edit(change)
        return f"Removed <b>#{ids.get(feed.source, '?')} {esc(feed.name)}</b>. Its items and hits are kept."

    async def set_paused(self, ref: str, paused: bool) -> str:
        """/pausefeed and /resumefeed: `enabled: false` in feeds.yaml, and a health pause cleared on resume."""
        ids = dict(self.live.feed_ids)

        def change(edit: Edit) -> FeedConfig:
            i = find_feed(edit.before.feeds, ids, ref, self.surface.list_feeds)
            edit.doc.set_enabled(i, not paused)
            return edit.before.feeds[i]

        feed = await self._edit(change)
        label = self._feed_label(feed)
        if paused:
            return f"Paused {label}. /resumefeed {ids.get(feed.source, '')} polls it again."
        if feed.source in self.live.feed_ids:
            await self.db.run(resume_feed, self.live.feed_ids[feed.source])
            await self.live.reload(force=True)
        return f"Resumed {label}: it is polled again now."

    async def all_topics(self) -> list[str]:
        """/alltopics: every topic with its query."""
        topics = self.live.config.topics
        blocks = [f"<b>{count(len(topics), 'topic')}</b>"]
        blocks += [f"\n<b>{esc(t.name)}</b> (<code>{esc(t.id)}</code>)\n<code>{esc(t.query)}</code>" for t in topics]
        return split_message(blocks)

    async def add_topic(self, args: str) -> list[str]:
        """/addtopic <id> <query>: add a topic (the query is checked first and tried on recent items)."""
        parts = args.split(None, 1)
        if len(parts) < 2:
            raise CommandError("usage: /addtopic <id> <query>, e.g. /addtopic zelensky zelensky OR зеленск*")
        topic_id, query = parts[0].lower(), " ".join(parts[1].split())
        if not _TOPIC_ID.match(topic_id):
            raise CommandError(f"{topic_id!r} cannot be a topic id: lower-case letters, digits, - and _ (at most 40)")
        _check_query(query)
        if any(t.id == topic_id for t in self.live.config.topics):
            raise CommandError(f"there is already a topic {topic_id!r}; /rmtopic it first to change it")
        await self._edit(lambda edit: edit.doc.add_topic(topic_id, query))
        added = f"Added topic <code>{esc(topic_id)}</code>; subscribers follow it with /subscribe {esc(topic_id)}.\n"
        return split_message([added, *await self.test_query(query)])

    async def remove_topic(self, topic_id: str) -> str:
        """/rmtopic <id>: remove a topic (its hits stay; its followers keep the subscription if it comes back)."""
        topic_id = topic_id.strip().lower()
        if not topic_id:
            raise CommandError("usage: /rmtopic <id> (see /alltopics)")
        await self._edit(lambda edit: edit.doc.remove_topic(topic_id))
        return f"Removed topic <code>{esc(topic_id)}</code>."

    async def test_query(self, query: str, limit: int = TEST_ITEMS) -> list[str]:
        """/testquery <query>: what it would match among the newest stored items (nothing is saved)."""
        query = " ".join(query.split())
        if not query:
            raise CommandError("usage: /testquery <query>, e.g. /testquery peskov OR песков")
        _check_query(query)
        return await test_query_lines(self.db, query, _zone(self.live.config), limit)

    async def stats(self) -> str:
        """/stats: feeds by health, items, stories, hits, subscribers, deliveries."""
        config, now = self.live.config, self.clock()
        states = await self.db.run(list_feed_states)
        counts = await self.db.run(table_counts)
        outbox = await self.db.run(outbox_counts)
        watches, watching_chats = await self.db.run(watch_totals)  # counts only: a watch is its chat's
        policy = HealthPolicy.of(config)
        by_condition: dict[Condition, int] = {}
        for f in config.feeds:
            state = states.get(self.live.feed_ids.get(f.source, -1))
            cond = feed_condition(state, f.enabled, now, policy) if state else Condition.NEW
            by_condition[cond] = by_condition.get(cond, 0) + 1
        health = ", ".join(f"{n} {c.value}" for c, n in by_condition.items())
        return "\n".join(
            [
                "<b>Newswatch</b>",
                f"Feeds: {len(config.feeds)} ({health or 'none'})",
                f"Topics: {len(config.topics)} · personal watches: {watches} in {watching_chats} chats",
                f"Items: {counts['items']} · stories: {counts['stories']} · hits: {counts['hits']}",
                f"Subscribers: {counts.get('subscribers_active', 0)} active, {counts.get('subscribers_inactive', 0)} gone",
                f"Deliveries: {outbox.get('pending', 0)} pending, {outbox.get('failed', 0)} failed, {outbox.get('sent', 0)} sent",
            ]
        )

    async def import_feeds(self, feeds: Sequence[OpmlFeed]) -> str:
        """Add the feeds of an OPML file that are not there yet, in one edit (they are not fetched first)."""
        have = {f.source for f in self.live.config.feeds}
        new: list[OpmlFeed] = []
        for f in feeds:
            source = f"tg:{f.telegram}" if f.telegram else f.url
            if source not in have:
                have.add(source or "")
                new.append(f)

        def change(edit: Edit) -> None:
            for f in new:
                edit.doc.add_feed(url=f.url, telegram=f.telegram, name=f.name)

        if new:
            await self._edit(change)
        there = len(feeds) - len(new)
        return f"Imported {count(len(new), 'feed')}; {there} {'was' if there == 1 else 'were'} already there."


def parse_addfeed_args(words: Sequence[str]) -> tuple[str, str, str]:
    """/addfeed's words -> (url or channel, name, interval): the name is every word between, the
    interval the last word when it reads as one (15m, 2h; a bare number stays part of the name)."""
    if not words:
        raise CommandError("usage: /addfeed <feed URL or @channel> [name] [interval], e.g. /addfeed @rian_ru RIA 15m")
    rest = list(words[1:])
    interval = rest.pop() if rest and _is_duration(rest[-1]) else ""
    return words[0], " ".join(rest).strip(), interval


def _source_of(word: str) -> tuple[str, str]:
    """('telegram', channel) or ('rss', url) for what an admin typed; CommandError otherwise."""
    word = word.strip().strip("<>")
    try:
        parts = urlsplit(word)
        host = (parts.hostname or "").lower()
    except ValueError as e:  # e.g. an unclosed [IPv6 literal
        raise CommandError(f"{word!r} is not a valid URL: {e}") from None
    if (
        word.startswith("@")
        or host.removeprefix("www.") in ("t.me", "telegram.me")
        or word.lower().startswith(("t.me/", "telegram.me/"))
    ):
        try:
            return "telegram", parse_channel(word)
        except ValueError as e:
            raise CommandError(str(e)) from None
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        if not host:
            raise CommandError(f"{word!r} has no host name")
        return "rss", word
    if scheme:
        raise CommandError(f"only http and https feeds can be added, not {scheme}:")
    raise CommandError(f"{word!r} is neither a feed URL (https://…) nor a public channel (@name)")


def _is_duration(word: str) -> bool:
    try:
        parse_duration(word)
    except ValueError:
        return False
    return not word.isdigit()  # a bare number is more likely part of a name ("Channel 4")


def _check_query(query: str) -> None:
    try:
        parse_query(query)
    except QueryError as e:
        raise CommandError(f"that query does not parse: {e}") from e


def format_duration(seconds: int) -> str:
    """600 -> '10m', 5400 -> '90m', 86400 -> '1d', 45 -> '45s'."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _zone(config: Config) -> ZoneInfo:
    return ZoneInfo(config.timezone)
