"""Plain data passed between the stages. Imports nothing from the project."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class FeedConfig:
    """One source from feeds.yaml: an RSS/Atom/JSON feed URL or a public Telegram channel."""

    name: str
    kind: str  # "rss" | "telegram"
    source: str  # the URL, or "tg:<channel>": the feed's identity across restarts
    url: str  # where it is fetched from
    interval_s: int
    enabled: bool = True


@dataclass(frozen=True)
class Topic:
    """A topic subscribers follow, written as a keyword query."""

    id: str
    name: str
    query: str


@dataclass
class Item:
    """One entry of a feed or one post of a channel, as parsed (before storage)."""

    key: str
    url: str | None
    title: str
    text: str
    published_at: datetime | None = None
    author: str | None = None
    extra: dict[str, object] = field(default_factory=dict)
    alias: str | None = None  # another key the item may be stored under (bot.sources.feeditems.tell_apart_shared_keys)


@dataclass(frozen=True)
class Match:
    """A topic that matched an item, with the query terms that matched."""

    topic: str
    terms: tuple[str, ...]


@dataclass
class ParsedFeed:
    """What a parser read from one body: the items and, if any, what went wrong."""

    items: list[Item]
    title: str | None = None
    error: str | None = None
    older_cursor: str | None = None  # channel pages: the `before` id of the next older page
    matches: dict[str, list[Match]] = field(default_factory=dict)  # item key -> topics it matched
    terms: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # item key -> (clustering terms, language, anchors)
    word_forms: tuple[str, dict[str, str]] | None = None  # (generation, word -> analysis) made from the dictionaries
    cyrillic: bool = False  # the parser has analysed a Cyrillic word by now (bot.matching.lemmas.met_cyrillic)
    # Digests of every item element of the body (the fast path's; None for other readings), and how many
    # of them were left unread as elements of the body stored before (bot.sources.fastrss).
    element_digests: list[str] | None = field(default=None, compare=False)
    skipped: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Candidate:
    """A recent story an item may join: its terms and when it was last reported."""

    story_id: int
    terms: Mapping[str, float]
    last_at: datetime | None
    same_feed: bool = False


@dataclass(frozen=True)
class FetchResult:
    """A fetcher answer: a body, or `not_modified` for a 304."""

    url: str
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    permanent_url: str | None = None  # set when a 301/308 moved the feed

    @property
    def not_modified(self) -> bool:
        """True when the server answered 304 Not Modified."""
        return self.status == 304


@dataclass(frozen=True)
class Hit:
    """A new hit ready to report: a topic matched a story."""

    hit_id: int
    topic: str
    feed: str
    title: str
    url: str | None
    published: datetime | None
    story_id: int
    matched: tuple[str, ...]
    held: bool = False  # kept, not queued for delivery: the item was older than max_age when first seen

    def to_json_dict(self) -> dict[str, object]:
        """The JSON-lines shape printed by `once --json`."""
        return {
            "topic": self.topic,
            "feed": self.feed,
            "title": self.title,
            "url": self.url,
            "published": self.published.isoformat() if self.published else None,
            "story": self.story_id,
            "matched": list(self.matched),
        }


@dataclass(frozen=True)
class Subscriber:
    """A chat that receives alerts or digests."""

    chat_id: int
    thread_id: int | None = None  # forum topic the chat subscribed from
    kind: str = "private"  # private | group | supergroup | channel | console
    title: str | None = None
    mode: str = "instant"  # instant | digest
    digest_times: tuple[str, ...] = ("08:00", "18:00")
    timezone: str = "UTC"
    active: bool = True
    paused: bool = False
    blocked_reason: str | None = None
    next_digest_at: datetime | None = None
    last_digest_at: datetime | None = None


@dataclass(frozen=True)
class Delivery:
    """One pending story for one chat, with what rendering needs."""

    id: int
    chat_id: int
    thread_id: int | None
    kind: str  # alert | digest
    story_id: int
    topic: str
    title: str
    url: str | None
    feed: str
    published_at: datetime | None
    first_seen_at: datetime | None
    attempts: int = 0
    n_feeds: int = 1
    also: tuple[str, ...] = ()  # other sources that carried the story


WATCH_PREFIX = "watch:"  # a watch's hits and deliveries carry "watch:<id>" where a topic's carry its id


def watch_key(watch_id: int) -> str:
    """The hit/delivery key of a personal watch."""
    return f"{WATCH_PREFIX}{watch_id}"


def watch_id_of(key: str) -> int | None:
    """The watch id in a hit/delivery key, or None for a topic id."""
    if not key.startswith(WATCH_PREFIX):
        return None
    rest = key[len(WATCH_PREFIX) :]
    return int(rest) if rest.isdigit() else None


@dataclass(frozen=True)
class Watch:
    """A chat's own query (a personal watch): matched like a topic, delivered to that chat only."""

    id: int
    chat_id: int
    name: str | None
    query: str
    created_at: datetime | None = None

    @property
    def label(self) -> str:
        """How alerts and lists show the watch: its name, else its query."""
        return self.name or self.query


@dataclass(frozen=True)
class StoryView:
    """A story as a list shows it (a page behind "+N more", /latest): what rendering needs."""

    story_id: int
    title: str
    url: str | None
    feed: str
    published_at: datetime | None
    first_seen_at: datetime | None
    n_feeds: int = 1
    also: tuple[str, ...] = ()  # other sources that carried the story
    topic: str = ""
