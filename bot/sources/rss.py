"""RSS 0.9x/1.0/2.0, Atom, RDF and JSON Feed bodies -> items (pure: bytes in, items out).

Plain RSS 2.0 and Atom 1.0 bodies are read by bot.sources.fastrss (lxml with feedparser's rules: the same
items, several times faster); feedparser reads every other XML body from the bytes and headers we give
it (it is never allowed to fetch: `feedparser.parse(b"/path")` would read a local file). JSON Feed
1.0/1.1 has its own small adapter.
Item text is the title plus the summary or content with HTML removed and entities decoded; links are
resolved against the feed's URL. A malformed feed gives whatever could be read and a note; a body with
nothing readable raises ParseError.
"""

from __future__ import annotations

import io
import json
from collections.abc import Set
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser
from feedparser.exceptions import ThingsNobodyCaresAboutButMe

from bot.errors import NotAFeed, ParseError
from bot.models import Item, ParsedFeed
from bot.sources.fastrss import parse_fast
from bot.sources.feeditems import (
    build_item,
    day_end_if_dateless,
    detail_text,
    html_to_text,
    struct_to_dt,
    tell_apart_shared_keys,
    title_from_text,
)
from bot.sources.sniff import describe_body
from bot.stories import content_hash

# feedparser flags these although the feed was read correctly.
_BENIGN = ThingsNobodyCaresAboutButMe


def is_json_feed(body: bytes, content_type: str = "") -> bool:
    """True when the body looks like a JSON Feed document."""
    head = body[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"{") and (b"jsonfeed.org" in head or "json" in content_type)


def parse_feed(body: bytes, headers: dict[str, str] | None = None, url: str = "", seen: Set[str] = frozenset()) -> ParsedFeed:
    """Parse a feed body into items; raise ParseError when nothing can be read. The fast path leaves
    unread the item elements whose digest is in `seen` (those of the body stored before)."""
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    if is_json_feed(body, headers.get("content-type", "")):
        return parse_json_feed(body, url)
    if url:
        headers.setdefault("content-location", url)
    return parse_fast(body, headers, seen) or parse_with_feedparser(body, headers, url)


def parse_with_feedparser(body: bytes, headers: dict[str, str], url: str = "") -> ParsedFeed:
    """Parse an RSS, Atom or RDF body with feedparser (headers lower-cased, content-location set)."""
    d = feedparser.parse(io.BytesIO(body), response_headers=headers, sanitize_html=False, resolve_relative_uris=False)
    note = None
    exc = d.get("bozo_exception")
    if d.get("bozo") and not isinstance(exc, _BENIGN):
        note = f"parser: {type(exc).__name__}: {exc}" if exc else "parser: malformed feed"
    if not d.entries:
        looks_like = describe_body(body, headers.get("content-type", "")) if note or not d.get("version") else None
        if looks_like is not None:
            raise NotAFeed(looks_like)
        if note:
            raise ParseError(f"{note} (no entries could be read)")
        if not d.get("version"):
            raise ParseError("parser: not a feed (no RSS, Atom, RDF or JSON Feed found)")
    base = headers.get("content-location") or url
    items, shared = tell_apart_shared_keys([it for it in (_entry_to_item(e, base) for e in d.entries) if it is not None])
    return ParsedFeed(items, d.feed.get("title"), "; ".join(n for n in (note, shared) if n) or None)


def _entry_to_item(e: Any, base: str) -> Item | None:
    title = detail_text(e.get("title", ""), e.get("title_detail"))
    summary = e.get("summary", "") or ""
    contents = e.get("content") or []
    longest = max((c.get("value", "") for c in contents), key=len, default="")
    body_html = longest if len(longest) > len(summary) else summary
    text = html_to_text(body_html)
    link = e.get("link") or _first_alternate(e)
    url = urljoin(base, link) if link else None
    guid = e.get("id") or e.get("guid")
    field = "published" if dict.get(e, "published_parsed") else "updated"  # dict.get: no feedparser fallback warning
    date = struct_to_dt(dict.get(e, f"{field}_parsed"))
    return build_item(title, text, url, str(guid).strip() if guid else None, dict.get(e, field), date, e.get("author") or None)


def _first_alternate(e: Any) -> str | None:
    for link in e.get("links", []) or []:
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return str(link["href"])
    return None


def parse_json_feed(body: bytes, url: str = "") -> ParsedFeed:
    """JSON Feed 1.0 / 1.1 -> items."""
    try:
        doc = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ParseError(f"parser: invalid JSON Feed: {e}") from e
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise ParseError("parser: JSON document is not a JSON Feed (no 'items' list)")
    base = str(doc.get("feed_url") or doc.get("home_page_url") or url)
    items: list[Item] = []
    for raw in doc["items"]:
        if not isinstance(raw, dict):
            continue
        link = raw.get("url") or raw.get("external_url")
        item_url = urljoin(base, str(link)) if link else None
        text = str(raw.get("content_text") or "") or html_to_text(str(raw.get("content_html") or ""))
        if not text:
            text = str(raw.get("summary") or "")
        title = html_to_text(str(raw.get("title") or "")) or title_from_text(text)
        if not title and not item_url:
            continue
        key = str(raw.get("id") or item_url or f"hash:{content_hash(title, text)}")
        when = raw.get("date_published") or raw.get("date_modified")
        published = day_end_if_dateless(when, _iso_to_dt(when))
        items.append(Item(key=key, url=item_url, title=title or (item_url or ""), text=text, published_at=published))
    items, shared = tell_apart_shared_keys(items)
    return ParsedFeed(items, str(doc.get("title")) if doc.get("title") else None, shared)


def _iso_to_dt(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
