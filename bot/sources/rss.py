"""RSS 0.9x/1.0/2.0, Atom, RDF and JSON Feed bodies -> items (pure: bytes in, items out).

feedparser reads the XML formats from the bytes and headers we give it (it is never allowed to fetch:
`feedparser.parse(b"/path")` would read a local file). JSON Feed 1.0/1.1 has its own small adapter.
Item text is the title plus the summary or content with HTML removed and entities decoded; links are
resolved against the feed's URL. A malformed feed gives whatever could be read and a note; a body with
nothing readable raises ParseError.
"""

from __future__ import annotations

import calendar
import io
import json
import re
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin

import feedparser
from feedparser.exceptions import ThingsNobodyCaresAboutButMe
from selectolax.lexbor import LexborHTMLParser

from bot.errors import NotAFeed, ParseError
from bot.models import Item, ParsedFeed
from bot.sources.sniff import describe_body
from bot.stories import content_hash

# feedparser flags these although the feed was read correctly.
_BENIGN = ThingsNobodyCaresAboutButMe
_SPACE = re.compile(r"\s+")
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")
TITLE_MAX = 200


def html_to_text(html: str) -> str:
    """Visible text of an HTML fragment, entities decoded, whitespace collapsed."""
    if not html:
        return ""
    if "<" not in html and "&" not in html:
        return _SPACE.sub(" ", html).strip()
    tree = LexborHTMLParser(f"<div>{html}</div>")
    tree.strip_tags(["script", "style", "noscript"])
    body = tree.body
    text = body.text(separator=" ") if body is not None else ""
    return _SPACE.sub(" ", text).strip()


def detail_text(value: str, detail: Any) -> str:
    """A feed string as text by feedparser's type for it: HTML (text/html, xhtml) loses its markup;
    plain text (an Atom type="text", or an RSS title with no markup feedparser knows) is kept as written."""
    if detail and "html" not in str(detail.get("type", "html")):
        return _SPACE.sub(" ", value).strip()
    return html_to_text(value)


def title_from_text(text: str) -> str:
    """A title for an item that has none: its first line, trimmed at a word."""
    first = text.strip().split("\n", 1)[0].strip()
    if len(first) <= TITLE_MAX:
        return first
    cut = first[:TITLE_MAX].rsplit(" ", 1)[0]
    return cut + "…"


def is_json_feed(body: bytes, content_type: str = "") -> bool:
    """True when the body looks like a JSON Feed document."""
    head = body[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"{") and (b"jsonfeed.org" in head or "json" in content_type)


def parse_feed(body: bytes, headers: dict[str, str] | None = None, url: str = "") -> ParsedFeed:
    """Parse a feed body into items; raise ParseError when nothing can be read."""
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    if is_json_feed(body, headers.get("content-type", "")):
        return parse_json_feed(body, url)
    if url:
        headers.setdefault("content-location", url)
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


def _entry_to_item(e: Any, base: str) -> Item | None:
    title = detail_text(e.get("title", ""), e.get("title_detail"))
    summary = e.get("summary", "") or ""
    contents = e.get("content") or []
    longest = max((c.get("value", "") for c in contents), key=len, default="")
    body_html = longest if len(longest) > len(summary) else summary
    text = html_to_text(body_html)
    link = e.get("link") or _first_alternate(e)
    url = urljoin(base, link) if link else None
    if url is not None and not url.startswith(("http://", "https://")):
        url = "https:" + url if url.startswith("//") else None
    if not title and not text and not url:
        return None
    if not title:
        title = title_from_text(text) or (url or "")
    guid = e.get("id") or e.get("guid")
    key = str(guid).strip() if guid else (url or f"hash:{content_hash(title, text)}")
    field = "published" if dict.get(e, "published_parsed") else "updated"  # dict.get: no feedparser fallback warning
    published = day_end_if_dateless(dict.get(e, field), _struct_to_dt(dict.get(e, f"{field}_parsed")))
    author = e.get("author") or None
    return Item(key=key, url=url, title=title, text=text, published_at=published, author=author)


def day_end_if_dateless(raw: object, parsed: datetime | None) -> datetime | None:
    """A date written without a time of day (or with 00:00, which is how outlets that give only the
    date write it) reads as the end of that day in its own zone: the item may have appeared at any
    hour of it, and the latest one is the only reading that never makes fresh news look old."""
    if parsed is None or not isinstance(raw, str):
        return parsed
    clock = _CLOCK.search(raw)
    if clock is None or not any(int(part or 0) for part in clock.groups()):
        return parsed + timedelta(days=1, seconds=-1)
    return parsed


def _first_alternate(e: Any) -> str | None:
    for link in e.get("links", []) or []:
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return str(link["href"])
    return None


def _struct_to_dt(st: time.struct_time | None) -> datetime | None:
    if not st:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(st), UTC)
    except (OverflowError, ValueError, OSError):
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
