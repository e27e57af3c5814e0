"""The Telegram messages a subscriber gets (pure: data and `now` in, HTML out).

- An alert: the topic (or watch) name, the linked title, the first outlet and when; once other
  outlets carry the story, "also: Reuters, BBC, +3 · 6 outlets" (a sent alert is edited to this as
  its story grows).
- A burst: many stories for one chat at once, in one message: the first `shown`, then "+N more".
- A digest: grouped by topic (the topic with most stories first), each topic's stories by how many
  outlets carry them, at most `per_topic` a topic, then "+N more"; split into messages between stories.
- A page: part of a list of stories (a "+N more" opened, /latest), with where it sits in the list.
"+N more" comes with a `More`: the stories left out, which the outbox keeps so that a button can
show them page by page.
Times are the reader's (bot.dates): "today 14:05", the year only when it is not this year, and the
zone named once per message, after the first time it shows.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.dates import format_short, format_when, zone_label
from bot.delivery.render import MAX_MESSAGE, esc, shorten, utf16_len
from bot.wording import count

SHOWN_ALSO = 2  # other outlets named before "+N"
MORE_BUTTON = "more:"  # "more:<story list id>": a "+N more" button, opens the list's first page
PAGE_BUTTON = "page:"  # "page:<story list id>:<page>": shows that page in place (far below 64 bytes)


class Shown(Protocol):
    """What a message shows of a story (a Delivery or a StoryView)."""

    @property
    def title(self) -> str: ...
    @property
    def url(self) -> str | None: ...
    @property
    def feed(self) -> str: ...
    @property
    def published_at(self) -> datetime | None: ...
    @property
    def first_seen_at(self) -> datetime | None: ...
    @property
    def n_feeds(self) -> int: ...
    @property
    def also(self) -> tuple[str, ...]: ...


class Grouped(Shown, Protocol):
    """A story with the topic (or watch) it reached the chat for, and its id."""

    @property
    def topic(self) -> str: ...
    @property
    def story_id(self) -> int: ...


@dataclass(frozen=True)
class More:
    """Stories a message had no room for, in the order it would have shown them."""

    title: str  # the topic or watch name they belong to
    kind: str  # "digest" | "burst"
    story_ids: tuple[int, ...]
    offset: int  # how many stories of the same list the message showed before them
    total: int


@dataclass(frozen=True)
class DigestPart:
    """One message of a digest, the deliveries it carries and the "+N more" lists it ends topics with."""

    text: str
    delivery_ids: tuple[int, ...]
    more: tuple[More, ...] = ()


def more_data(list_id: int) -> str:
    """The callback data of a "+N more" button."""
    return f"{MORE_BUTTON}{list_id}"


def page_data(list_id: int, page: int) -> str:
    """The callback data of a button that shows `page` (from 0) of a list."""
    return f"{PAGE_BUTTON}{list_id}:{page}"


def parse_button_data(data: str) -> tuple[int, int] | None:
    """(list id, page) from a "more:" (page 0) or "page:" button's data; None when malformed."""
    kind, _, rest = data.partition(":")
    list_part, _, page_part = rest.partition(":")
    if not list_part.isdigit() or (page_part and not page_part.isdigit()):
        return None
    if f"{kind}:" == MORE_BUTTON and not page_part:
        return int(list_part), 0
    if f"{kind}:" == PAGE_BUTTON and page_part:
        return int(list_part), int(page_part)
    return None


def order_names(topics: Sequence[str], names: Mapping[str, str]) -> list[str]:
    """Display names of topic ids in one order everywhere: the catalog's (feeds.yaml's) order, then
    names it does not know (a watch's label, a removed topic) alphabetically."""
    rank = {t: i for i, t in enumerate(names)}
    unique = list(dict.fromkeys(topics))
    unique.sort(key=lambda t: (rank.get(t, len(rank)), names.get(t, t).casefold()))
    return [names.get(t, t) for t in unique]


def _link(title: str, url: str | None, limit: int = 300) -> str:
    shown = esc(shorten(title, limit) or "(untitled)")
    if url and url.startswith(("http://", "https://")):
        return f'<a href="{html.escape(url, quote=True)}">{shown}</a>'
    return shown


def _when(s: Shown, now: datetime, zone: str, *, short: bool = False, named: bool = False) -> str:
    moment = s.published_at or s.first_seen_at
    if moment is None:
        return ""
    text = format_short(moment, now, zone) if short else format_when(moment, now, zone)
    return f"{text} ({zone_label(zone)})" if named else text


def outlets(s: Shown) -> str:
    """'also: Reuters, BBC, +3 · 6 outlets', or '' for a story one outlet carries."""
    if not s.also:
        return ""
    names = ", ".join(esc(n) for n in s.also[:SHOWN_ALSO])
    more = len(s.also) - SHOWN_ALSO
    count = max(s.n_feeds, len(s.also) + 1)
    return f"also: {names}" + (f", +{more}" if more > 0 else "") + f" · {count} outlets"


def _story_line(s: Shown, now: datetime, zone: str, *, named: bool = False) -> str:
    meta = " · ".join(x for x in (esc(s.feed), _when(s, now, zone, named=named), outlets(s)) if x)
    return f"• {_link(s.title, s.url)}\n  {meta}"


def render_alert(d: Shown, topic_name: str, timezone: str, now: datetime) -> str:
    """One instant alert: name, linked title, outlet and time, and the other outlets once there are any."""
    meta = " · ".join(x for x in (esc(d.feed), _when(d, now, timezone, named=True)) if x)
    lines = [f"🔔 <b>{esc(topic_name)}</b>", f"<b>{_link(d.title, d.url)}</b>", meta]
    if also := outlets(d):
        lines.append(also)
    return "\n".join(lines)


def render_burst(
    items: Sequence[Grouped], topic_names: Mapping[str, str], timezone: str, now: datetime, shown: int = 10
) -> tuple[str, More | None]:
    """Many stories for one chat at once, in one short message, and the stories it left out."""
    topics = ", ".join(order_names([d.topic for d in items], topic_names))
    lines = [f"🔔 <b>{len(items)} new stories</b> · {esc(topics)}"]
    for i, d in enumerate(items[:shown]):
        when = _when(d, now, timezone, short=True, named=i == 0)
        meta = " · ".join(x for x in (esc(d.feed), when, outlets(d)) if x)
        lines.append(f"• {_link(d.title, d.url, 120)} · {meta}")
    if len(items) <= shown:
        return "\n".join(lines), None
    lines.append(f"+{len(items) - shown} more")
    rest = tuple(d.story_id for d in items[shown:])
    return "\n".join(lines), More(topics, "burst", rest, shown, len(items))


def render_digest(
    items: Sequence[Grouped],
    topic_names: Mapping[str, str],
    timezone: str,
    now: datetime,
    per_topic: int = 10,
    limit: int = MAX_MESSAGE,
    ids: Sequence[int] | None = None,
) -> list[DigestPart]:
    """A digest grouped by topic, each topic's stories by how many outlets carry them, capped per
    topic with "+N more", split into messages of at most `limit` UTF-16 units between stories.
    `ids` are the delivery ids of `items` (their story ids when not given)."""
    keys = list(ids) if ids is not None else [d.story_id for d in items]
    by_topic: dict[str, list[tuple[int, Grouped]]] = {}
    for key, d in zip(keys, items, strict=True):
        by_topic.setdefault(d.topic, []).append((key, d))
    rank = {name: i for i, name in enumerate(order_names(list(by_topic), topic_names))}
    header = f"📰 <b>Digest</b> · {format_when(now, now, timezone)} ({zone_label(timezone)}) · {count(len(items), 'story')}"
    blocks: list[_Block] = []
    for topic in sorted(by_topic, key=lambda t: (-len(by_topic[t]), rank[topic_names.get(t, t)])):
        group = sorted(by_topic[topic], key=lambda kd: (-kd[1].n_feeds, kd[0]))
        name = topic_names.get(topic, topic)
        head = f"<b>{esc(name)}</b> ({len(group)})"
        for key, d in group[:per_topic]:
            blocks.append(_Block(head, _story_line(d, now, timezone), (key,)))
        if len(group) > per_topic:
            rest = group[per_topic:]
            more = More(name, "digest", tuple(d.story_id for _, d in rest), per_topic, len(group))
            blocks.append(_Block(head, f"+{len(rest)} more", tuple(k for k, _ in rest), more))
    return _pack(header, blocks, limit)


@dataclass(frozen=True)
class _Block:
    head: str
    line: str
    ids: tuple[int, ...]
    more: More | None = None


def _pack(header: str, blocks: Sequence[_Block], limit: int) -> list[DigestPart]:
    parts: list[DigestPart] = []
    lines: list[str] = [header]
    ids: list[int] = []
    mores: list[More] = []
    current_head = ""
    size = utf16_len(header)
    for b in blocks:
        new = [] if b.head == current_head else ["", b.head]
        cost = sum(utf16_len(x) + 1 for x in [*new, b.line])
        if size + cost > limit and ids:
            parts.append(DigestPart("\n".join(lines), tuple(ids), tuple(mores)))
            lines, ids, mores = [f"{b.head} (cont.)"], [], []
            size, new = utf16_len(lines[0]), []
            cost = utf16_len(b.line) + 1
        lines += [*new, b.line]
        ids += b.ids
        if b.more is not None:
            mores.append(b.more)
        size += cost
        current_head = b.head
    if ids:
        parts.append(DigestPart("\n".join(lines), tuple(ids), tuple(mores)))
    return parts


def render_page(
    title: str,
    origin: str,
    stories: Sequence[Shown],
    start: int,
    total: int,
    timezone: str,
    now: datetime,
    made_at: datetime | None = None,
) -> str:
    """One page of a list of stories: `origin` says where the list comes from ("digest", "burst" or
    "latest", made at `made_at`), `start` is how many stories of the list come before this page."""
    span = f"{start + 1}–{start + len(stories)} of {total}" if stories else f"0 of {total}"
    if origin == "latest":
        head = f"🗂 <b>{esc(title)}</b> · latest stories {span}"
    else:
        what = "digest" if origin == "digest" else "alert"
        when = f" of {format_when(made_at, now, timezone)} ({zone_label(timezone)})" if made_at else ""
        head = f"{'📰' if origin == 'digest' else '🔔'} <b>{esc(title)}</b> · from the {what}{when} · {span}"
    lines = [head]
    for i, s in enumerate(stories):
        lines.append(_story_line(s, now, timezone, named=origin == "latest" and i == 0))
    if not stories:
        lines.append("These stories are no longer stored.")
    return "\n".join(lines)
