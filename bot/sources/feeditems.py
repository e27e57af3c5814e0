"""What both feed parsers share: how an entry's fields become an Item.

Item text is the title plus the summary or content with HTML removed and entities decoded; an item with
no title takes its first line; items that share a link are told apart by title and text; a date written
without a time of day reads as the end of that day.
"""

from __future__ import annotations

import calendar
import re
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from selectolax.lexbor import LexborHTMLParser

from bot.models import Item
from bot.stories import content_hash

_CLOCK = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")
TITLE_MAX = 200


_CONTROLS = bytes(range(32))


def collapse_space(text: str) -> str:
    """The text with each run of whitespace one space, none at either end (`re.sub(r"\\s+", " ", text).strip()`:
    str.split and the regex's \\s know the same whitespace, and split finds it several times faster). A
    printable text holds no whitespace but the space (the others are separators or controls; in ASCII,
    characters below the space): with no two spaces together and none at either end, it is as it stands."""
    # (in ASCII text, deleting the controls from its bytes is faster than isprintable)
    plain = len(text.encode().translate(None, _CONTROLS)) == len(text) if text.isascii() else text.isprintable()
    if plain and "  " not in text and not text.startswith(" ") and not text.endswith(" "):
        return text
    return " ".join(text.split())


def html_to_text(html: str) -> str:
    """Visible text of an HTML fragment, entities decoded, whitespace collapsed."""
    if not html:
        return ""
    if "<" not in html and "&" not in html:
        return collapse_space(html)
    tree = LexborHTMLParser(f"<div>{html}</div>")
    tree.strip_tags(["script", "style", "noscript"])
    body = tree.body
    text = body.text(separator=" ") if body is not None else ""
    return collapse_space(text)


def detail_text(value: str, detail: Any) -> str:
    """A feed string as text by feedparser's type for it: HTML (text/html, xhtml) loses its markup;
    plain text (an Atom type="text", or an RSS title with no markup feedparser knows) is kept as written."""
    if detail and "html" not in str(detail.get("type", "html")):
        return collapse_space(value)
    return html_to_text(value)


def build_item(
    title: str, text: str, url: str | None, key: str | None, raw_date: object, date: datetime | None, author: str | None
) -> Item | None:
    """The Item of one entry, from its fields as feedparser gives them (both parse paths end here): a
    link that is not http(s) is dropped (a scheme-relative one gets https); an entry with no title,
    text or link is no item; a missing title is taken from the text, else the link; the key is the
    guid, else the link, else a hash of title and text."""
    if url is not None and not url.startswith(("http://", "https://")):
        url = "https:" + url if url.startswith("//") else None
    if not title and not text and not url:
        return None
    if not title:
        title = title_from_text(text) or (url or "")
    key = key or url or f"hash:{content_hash(title, text)}"
    return Item(key=key, url=url, title=title, text=text, published_at=day_end_if_dateless(raw_date, date), author=author)


def title_from_text(text: str) -> str:
    """A title for an item that has none: its first line, trimmed at a word."""
    first = text.strip().split("\n", 1)[0].strip()
    if len(first) <= TITLE_MAX:
        return first
    cut = first[:TITLE_MAX].rsplit(" ", 1)[0]
    return cut + "…"


def tell_apart_shared_keys(items: list[Item]) -> tuple[list[Item], str | None]:
    """Give items keyed by a link they share (no guid, or one that is only that link: some outlets give
    every item their home page) keys of their own; return the items and a note for the feed's health.

    Items with one link but different titles or texts are different items: each gets the shared key
    plus a hash of its title (of its title and text where titles repeat too), and the shared key as its
    alias, so an item stored under the bare key before keeps being recognised by its title. An item
    keyed by its own link gets the titled form as its alias, for a feed that stops sharing links."""
    groups: dict[str, set[tuple[str, str]]] = {}
    for it in items:
        if it.key == it.url:  # keyed by its link (a guid of its own names one item, even when repeated)
            groups.setdefault(it.key, set()).add((it.title, it.text))
    title_hash: dict[str, str] = {}
    titles: dict[str, Counter[str]] = {}  # shared key -> title hash -> items with that title
    for key, distinct in groups.items():
        if len(distinct) > 1:
            for title, _ in distinct:
                title_hash.setdefault(title, content_hash(title))
            titles[key] = Counter(title_hash[title] for title, _ in distinct)
    out: list[Item] = []
    for it in items:
        if it.key not in titles:
            out.append(replace(it, alias=f"{it.key}#{content_hash(it.title)}") if it.key == it.url else it)
            continue
        mark = title_hash[it.title]
        if titles[it.key][mark] > 1:
            mark = content_hash(it.title, it.text)
        out.append(replace(it, key=f"{it.key}#{mark}", alias=it.key, extra={**it.extra, "shared_key": it.key}))
    if not titles:
        return out, None
    told = "; ".join(f"{len(groups[key])} items share the link {key}" for key in titles)
    return out, f"identity: {told}: told apart by title and text"


def day_end_if_dateless(raw: object, parsed: datetime | None) -> datetime | None:
    """A date written without a time of day (or with 00:00, which is how outlets that give only the
    date write it) reads as the end of that day in its own zone: the item may have appeared at any
    hour of it, and the latest one is the only reading that never makes fresh news look old."""
    if parsed is None or not isinstance(raw, str):
        return parsed
    return parsed + timedelta(days=1, seconds=-1) if _dateless(raw) else parsed


@lru_cache(maxsize=1024)  # a feed's items, and an outlet's feeds, repeat their dates
def _dateless(raw: str) -> bool:
    """Whether a date is written without a time of day, or with 00:00."""
    clock = _CLOCK.search(raw)
    return clock is None or not any(int(part or 0) for part in clock.groups())


def struct_to_dt(st: time.struct_time | None) -> datetime | None:
    if not st:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(st), UTC)
    except (OverflowError, ValueError, OSError):
        return None
