"""The fast path for plain RSS 2.0 and Atom 1.0 feeds: fastfeedparser reads them about 20 times faster than
feedparser, and parse_fast takes its reading only where it is the one feedparser would give.

The guard is decided from the body itself, never by running feedparser: first a few byte checks, then a
strict lxml parse (libxml2 and feedparser's expat agree on what is well-formed XML), then one pass over the
children of each item. A body is refused (None: rss.parse_feed reads it with feedparser) when
- its content type is not XML, or its charset or encoding is not UTF-8 (feedparser converts and guesses);
- it has a DOCTYPE (entities feedparser declares for itself) or xml:base (feedparser resolves links by it);
- it is not well-formed XML (feedparser's loose parser reads it its own way and reports it);
- it is not RSS 2.0-style or Atom 1.0 (RDF, RSS 0.90, Atom 0.3, CDF), or items sit outside the channel;
- a title, description, summary, content or link holds markup (child elements, comments) rather than text;
- an item repeats a field feedparser keeps the last of, carries another date element (dc:date, updated...)
  beside or instead of its pubDate, an Atom link to itself in RSS, or an Atom author with an email;
- fastfeedparser refuses the body or counts other items than the tree holds.
What is taken from the tree rather than from fastfeedparser is what fastfeedparser reads its own way: the
raw date strings (parsed by feedparser's own date parser), guids and their isPermaLink, Atom ids and links.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

import fastfeedparser
from feedparser.datetimes import _parse_date
from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urljoin
from lxml import etree

from bot.models import Item, ParsedFeed
from bot.sources.feeditems import (
    day_end_if_dateless,
    html_to_text,
    struct_to_dt,
    tell_apart_shared_keys,
    title_from_text,
)
from bot.stories import content_hash

ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
DC = "{http://purl.org/dc/elements/1.1/}"
_DECL_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)""")
_SPACE = re.compile(r"\s+")
# A URL urljoin returns unchanged against any base: no empty query or fragment, no params, no brackets.
_PLAIN_URL = re.compile(r"https?://[^/?#;\s\\\[\]]+(?:/[^?#;\s\\]*)?(?:\?[^#\s]+)?(?:#\S+)?")
_UTF8 = {"utf-8", "utf8"}
# Elements whose value feedparser reads as text: markup inside them is serialized by feedparser.
_TEXT_TAGS = (
    "title",
    "description",
    "link",
    "guid",
    "pubDate",
    "author",
    f"{CONTENT}encoded",
    f"{DC}creator",
    f"{ATOM}title",
    f"{ATOM}summary",
    f"{ATOM}content",
    f"{ATOM}id",
    f"{ATOM}published",
    f"{ATOM}updated",
    f"{ATOM}name",
    f"{ATOM}email",
)
_CP1252 = {c: bytes([c]).decode("cp1252") for c in range(0x80, 0xA0) if c not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)}
_ATOM_NS = ATOM[1:-1]
# feedparser's prefixes for the namespaces it knows (media:, dc:, itunes:...; '' for Atom and RSS 1.0).
_PREFIXES: dict[str, str] = {uri.lower(): prefix for uri, prefix in _FeedParserMixin.namespaces.items()}
# Elements feedparser has a handler for that touch none of the fields read here (tags, media, podcasts).
_SAFE_HANDLERS = frozenset(
    {"category", "keywords", "enclosure", "cloud", "dc_subject", "dc_language", "dc_rights", "itunes_category", "itunes_subtitle"}
    | {"itunes_image", "itunes_block", "itunes_explicit", "itunes_keywords", "media_category", "media_group"}
    | {"media_rating", "media_credit", "media_restriction", "media_license", "media_content", "media_thumbnail"}
    | {"media_player", "media_keywords", "cc_license", "creativecommons_license", "psc_chapters", "psc_chapter"}
)
_SAFE_HANDLERS = _SAFE_HANDLERS | {n[7:] for n in dir(_FeedParserMixin) if n.startswith(("_start_georss", "_start_gml"))}
_HARMLESS: dict[tuple[str, str | None], bool] = {}
# The elements read here, by feedparser's name for them -> (namespace, name) as they must be written.
_RSS_READ = {name.lower(): ("", name) for name in ("title", "link", "description", "guid", "pubDate", "author")} | {
    "content_encoded": (CONTENT[1:-1], "encoded"),
    "dc_creator": (DC[1:-1], "creator"),
    "dc_date": (DC[1:-1], "date"),
}
_ATOM_READ = {name: (ATOM[1:-1], name) for name in ("title", "link", "id", "summary", "content", "published", "updated")}
_ATOM_READ["author"] = (ATOM[1:-1], "author")
_HTML_TYPES = {"text/html", "application/xhtml+xml", "html", "xhtml"}
_local = threading.local()


class Refused(Exception):
    """The fast path cannot promise feedparser's reading of this body (the message says why)."""


def parse_fast(body: bytes, headers: dict[str, str]) -> ParsedFeed | None:
    """The feed read by fastfeedparser, or None where feedparser must read it (headers lower-cased)."""
    try:
        return read_fast(body, headers)
    except Refused:
        return None


def read_fast(body: bytes, headers: dict[str, str]) -> ParsedFeed:
    """The feed read by fastfeedparser exactly as feedparser reads it; raise Refused where it cannot be."""
    _check_bytes(body, headers.get("content-type", ""))
    try:
        root = etree.fromstring(body, _parser())
    except etree.XMLSyntaxError as e:
        raise Refused(f"not well-formed XML: {e}") from e
    read_entry: Callable[[Any, str], _Fields]
    if root.tag == "rss":
        channel = root.find("channel")
        items = channel.findall("item") if channel is not None else []
        if channel is None or len(items) != sum(1 for _ in root.iter("item")):
            raise Refused("items outside the channel")
        read_entry = _rss_fields
    elif root.tag == f"{ATOM}feed":
        channel, items, read_entry = root, root.findall(f"{ATOM}entry"), _atom_fields
    else:
        raise Refused(f"format: root element {root.tag}")
    for el in root.iter(*_TEXT_TAGS):
        if len(el):
            raise Refused(f"markup inside <{etree.QName(el).localname}>")
    try:
        d = fastfeedparser.parse(body)
    except ValueError as e:
        raise Refused(f"fastfeedparser: {e}") from e
    entries = d.get("entries") or []
    if len(entries) != len(items):
        raise Refused(f"fastfeedparser read {len(entries)} items of {len(items)}")
    base = headers.get("content-location", "")
    parsed = [_to_item(entry, read_entry(el, base), base) for entry, el in zip(entries, items, strict=True)]
    found, shared = tell_apart_shared_keys([it for it in parsed if it is not None])
    title = channel.findtext("title" if root.tag == "rss" else f"{ATOM}title")
    return ParsedFeed(found, _as_feedparser(title.strip()) if title is not None else None, shared)


def _check_bytes(body: bytes, content_type: str) -> None:
    mime, _, params = content_type.lower().partition(";")
    if mime.strip() and "xml" not in mime:
        raise Refused(f"content type {mime.strip()}")
    charset = re.search(r"charset\s*=\s*[\"']?([^\"';\s]+)", params)
    if charset and charset.group(1) not in _UTF8:
        raise Refused(f"charset {charset.group(1)}")
    if body.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00", b"\x00<", b"<\x00")):
        raise Refused("encoding: UTF-16/32")
    declared = _DECL_ENCODING.match(body.removeprefix(b"\xef\xbb\xbf"))
    if declared and declared.group(1).lower().decode() not in _UTF8:
        raise Refused(f"encoding {declared.group(1).decode()}")
    if b"<!DOCTYPE" in body or b"<!doctype" in body:
        raise Refused("DOCTYPE")
    if b"xml:base" in body:
        raise Refused("xml:base")


def _parser() -> etree.XMLParser:
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:  # an lxml parser serves one thread at a time
        parser = _local.parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
    return parser


class _Fields:
    """What feedparser would read from one item's tree where fastfeedparser reads it differently."""

    __slots__ = ("date", "date_raw", "has_summary", "key", "link", "title", "title_type")

    def __init__(self) -> None:
        self.key: str | None = None
        self.link: str | None = None
        self.date_raw: str | None = None
        self.date: datetime | None = None
        self.has_summary = False
        self.title = ""
        self.title_type = "text/plain"


def _children(item: Any, kind: str, allowed: dict[str, tuple[str, str]]) -> list[tuple[str, str, Any]]:
    """(namespace, local name, element) of an item's children; refuse a repeated field, or an element
    feedparser reads into a field we use (title, text, link, key, author, date) other than the allowed ones."""
    out: list[tuple[str, str, Any]] = []
    seen: set[str] = set()
    for child in item:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        ns, _, name = tag[1:].partition("}") if tag[0] == "{" else ("", "", tag)
        read_as = _feedparser_name(ns, child.prefix, name)
        if read_as == "link" and ns == _ATOM_NS and child.get("href") is not None and not _is_alternate(child):
            pass  # an Atom link to itself or elsewhere: feedparser files it under links, not as the link
        elif read_as in allowed:
            if allowed[read_as] != (ns, name):
                raise Refused(f"{kind} has <{child.prefix + ':' if child.prefix else ''}{name}> for <{allowed[read_as][1]}>")
            if read_as in seen and read_as != "link":
                raise Refused(f"{kind} repeats <{name}>")
            seen.add(read_as)
        else:
            for el in child.iter():
                if isinstance(el.tag, str) and not _is_harmless(el):
                    raise Refused(f"{kind} has <{el.prefix + ':' if el.prefix else ''}{etree.QName(el).localname}>")
        out.append((ns, name, child))
    return out


def _is_alternate(link: Any) -> bool:
    """True for an Atom link feedparser takes as the item's link: rel alternate (the default), HTML type."""
    rel = link.get("rel", "alternate")
    kind = link.get("type", "application/atom+xml" if rel == "self" else "text/html")
    return rel == "alternate" and kind.lower() in _HTML_TYPES


def _feedparser_name(ns: str, prefix: str | None, name: str) -> str:
    """The name feedparser gives an element: its own prefix for a namespace it knows, then the local name."""
    if ns:
        known = _PREFIXES.get(ns.lower(), prefix)
        prefix = known if "backend.userland.com/rss" not in ns.lower() else ""
    return f"{prefix.lower()}_{name.lower()}" if prefix else name.lower()


def _is_harmless(el: Any) -> bool:
    """True when feedparser reads the element into nothing we use (no handler, or one for tags and media)."""
    key = (el.tag, el.prefix)
    verdict = _HARMLESS.get(key)
    if verdict is None:
        qname = etree.QName(el)
        read_as = _feedparser_name(qname.namespace or "", el.prefix, qname.localname)
        handled = hasattr(_FeedParserMixin, f"_start_{read_as}") or hasattr(_FeedParserMixin, f"_end_{read_as}")
        verdict = _HARMLESS[key] = not handled or read_as in _SAFE_HANDLERS
    return verdict


def _text(el: Any) -> str:
    return _as_feedparser((el.text or "").strip())


def _rss_fields(item: Any, base: str) -> _Fields:
    f = _Fields()
    published: str | None = None
    updated: str | None = None
    guid_is_link = False
    names = set()
    for ns, name, child in _children(item, "an item", _RSS_READ):
        names.add(name)
        if ns == DC[1:-1] and name == "date":
            updated = _text(child)
        if ns:
            continue
        if name == "link":
            f.link = _amp_fixed(_as_feedparser(_join(base, (child.text or "").strip())))
        elif name == "guid":
            guid_is_link = (child.get("isPermaLink") or child.get("ispermalink") or "true") == "true"
            text = (child.text or "").strip()
            f.key = _as_feedparser(_join(base, text) if guid_is_link and text else text)
        elif name == "pubDate":
            published = _text(child)
        elif name == "title":
            _read_title(f, child)
            if f.title_type == "text/plain" and _FeedParserMixin.looks_like_html(f.title):
                f.title_type = "text/html"  # feedparser's guess for an RSS title
    if "author" in names and "creator" in names:
        raise Refused("an item has both <author> and <dc:creator>")
    f.has_summary = "description" in names
    if guid_is_link and f.link is None and f.key:
        f.link = f.key
    _read_date(f, published, updated)
    return f


def _atom_fields(entry: Any, base: str) -> _Fields:
    f = _Fields()
    published: str | None = None
    updated: str | None = None
    for ns, name, child in _children(entry, "an entry", _ATOM_READ):
        if ns != _ATOM_NS:
            continue
        if name == "link":
            if _is_alternate(child) and child.get("href") is not None:
                f.link = _as_feedparser(_join(base, child.get("href", "")))
        elif name == "id":
            text = (child.text or "").strip()
            f.key = _as_feedparser(_join(base, text) if text else text)
        elif name == "title":
            _read_title(f, child)
        elif name == "published":
            published = _text(child)
        elif name == "updated":
            updated = _text(child)
        elif name == "summary":
            f.has_summary = True
        elif name == "author" and child.find(f"{ATOM}email") is not None:
            raise Refused("an Atom author with an email")
    if f.link is None and f.key:
        f.link = f.key
    _read_date(f, published, updated)
    return f


def _read_title(f: _Fields, el: Any) -> None:
    f.title = _text(el)
    f.title_type = _FeedParserMixin.map_content_type(el.get("type", "text/plain"))


def _read_date(f: _Fields, published: str | None, updated: str | None) -> None:
    """feedparser's choice: the published date where it parses, else the updated one (parsed as it does)."""
    when = struct_to_dt(_parse_date(published)) if published else None
    f.date_raw, f.date = (published, when) if when else (updated, struct_to_dt(_parse_date(updated)) if updated else None)


def _to_item(entry: Any, f: _Fields, base: str) -> Item | None:
    title = html_to_text(f.title) if "html" in f.title_type else _SPACE.sub(" ", f.title).strip()
    summary = _as_feedparser(entry.get("description") or "") if f.has_summary else ""
    contents = entry.get("content") or []
    longest = max((_as_feedparser((c.get("value") or "").strip()) for c in contents), key=len, default="")
    text = html_to_text(longest if len(longest) > len(summary) else summary)
    url = _join(base, f.link, urljoin) if f.link else None
    if url is not None and not url.startswith(("http://", "https://")):
        url = "https:" + url if url.startswith("//") else None
    if not title and not text and not url:
        return None
    if not title:
        title = title_from_text(text) or (url or "")
    key = f.key or url or f"hash:{content_hash(title, text)}"
    author = _as_feedparser(entry.get("author") or "") or None
    published = day_end_if_dateless(f.date_raw, f.date)
    return Item(key=key, url=url, title=title, text=text, published_at=published, author=author)


def _join(base: str, uri: str, join: Callable[[str, str], str] = _urljoin) -> str:
    """`join(base, uri)` (feedparser's or urllib's): a plain absolute http(s) URL, which joining gives back
    as it is, skips the parse."""
    return uri if _PLAIN_URL.fullmatch(uri) else join(base, uri)


def _as_feedparser(value: str) -> str:
    """A decoded string as feedparser hands it over: UTF-8 read as Latin-1 repaired, C1 controls as cp1252."""
    if value.isascii():
        return value
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        value = value.encode("iso-8859-1").decode("utf-8")
    return value.translate(_CP1252)


def _amp_fixed(link: str) -> str:
    """feedparser's repair of `&amp;` left in a link (a query string escaped twice)."""
    if "&" not in link:
        return link
    return re.sub("&([A-Za-z0-9_]+);", r"&\g<1>", link.replace("&amp;", "&"))
