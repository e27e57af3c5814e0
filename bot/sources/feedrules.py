"""feedparser's rules for reading one RSS item or Atom entry, applied to an lxml element.

Each function reads a field the way feedparser 6 does (which element wins, how a guid becomes a key and a
link, which date is taken, how summary and content are filled), or raises Refused where the item holds
something these rules do not cover, so that bot.sources.fastrss can promise feedparser's reading.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from feedparser.datetimes import _parse_date
from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urljoin

from bot.sources.feeditems import struct_to_dt

ATOM_NS = "http://www.w3.org/2005/Atom"
CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"
DC_NS = "http://purl.org/dc/elements/1.1/"
ITUNES_NS = "http://www.itunes.com/dtds/podcast-1.0.dtd"
# feedparser's prefixes for the namespaces it knows (media:, dc:, itunes:...; '' for Atom and RSS 1.0).
_PREFIXES: dict[str, str] = {uri.lower(): prefix for uri, prefix in _FeedParserMixin.namespaces.items()}
# Elements feedparser has a handler for that touch none of the fields read here (tags, media, podcasts).
_SAFE_HANDLERS = frozenset(
    {"category", "keywords", "enclosure", "cloud", "dc_subject", "dc_language", "dc_rights", "itunes_category"}
    | {"itunes_image", "itunes_block", "itunes_explicit", "itunes_keywords", "itunes_subtitle", "media_category"}
    | {"media_rating", "media_credit", "media_restriction", "media_license", "media_content", "media_thumbnail"}
    | {"media_player", "media_keywords", "media_group", "cc_license", "creativecommons_license", "psc_chapters"}
    | {"psc_chapter"}
    | {n[7:] for n in dir(_FeedParserMixin) if n.startswith(("_start_georss", "_start_gml"))}
)
# Elements feedparser files under the item's summary (or, once it has one, its content) and its content.
_SUMMARIES = {"description": "text/html", "media_description": "text/html", "dc_description": "text/html"} | {
    "summary": "text/plain",
    "itunes_summary": "text/plain",
}
_CONTENTS = {"content_encoded": "text/html", "fullitem": "text/html", "content": "text/plain"}
_TEXT_TYPES = {"text/plain", "text/html", "application/xhtml+xml"}
# The elements read here, by feedparser's name for them -> (namespace, name) as they must be written.
RSS_READ = {name.lower(): ("", name) for name in ("title", "link", "guid", "pubDate", "author")} | {
    "dc_creator": (DC_NS, "creator"),
    "itunes_author": (ITUNES_NS, "author"),
    "dc_date": (DC_NS, "date"),
}
ATOM_READ = {name: (ATOM_NS, name) for name in ("title", "link", "id", "published", "updated", "author")}
_HTML_TYPES = {"text/html", "application/xhtml+xml"}
_CP1252 = {c: bytes([c]).decode("cp1252") for c in range(0x80, 0xA0) if c not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)}
# A URL urljoin returns unchanged against any base: no empty query or fragment, no params, no brackets.
_PLAIN_URL = re.compile(r"https?://[^/?#;\s\\\[\]]+(?:/[^?#;\s\\]*)?(?:\?[^#\s]+)?(?:#\S+)?")
_OTHER_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):(?!//)")
_BARE_NAME = re.compile(r"[A-Za-z0-9_~!$&'()*+,=@%-][A-Za-z0-9._~!$&'()*+,=@%-]*")
_HARMLESS: dict[tuple[str, str | None], bool] = {}
_NAMES: dict[tuple[str, str | None], tuple[str, str, str]] = {}
_CACHE_MAX = 4096  # feeds name their own elements: the caches of names seen stay bounded


class Refused(Exception):
    """The fast path cannot promise feedparser's reading of this body (the message says why)."""


class Fields:
    """One item as feedparser reads it: title, key, link, date, author, summary and contents."""

    __slots__ = (
        "author",
        "contents",
        "date",
        "date_raw",
        "first_alternate",
        "key",
        "link",
        "summary",
        "summary_depth",
        "title",
        "title_type",
    )

    def __init__(self) -> None:
        self.title = ""
        self.title_type = "text/plain"
        self.key: str | None = None
        self.link: str | None = None
        self.first_alternate: str | None = None  # the href of the first rel=alternate link of any type
        self.date_raw: str | None = None
        self.date: datetime | None = None
        self.author: str | None = None
        self.summary: str | None = None
        self.summary_depth: int | None = None
        self.contents: list[str] = []


def rss_fields(item: Any, base: str) -> Fields:
    """An RSS item's fields by feedparser's rules, links and guids resolved against `base`."""
    f = Fields()
    published: str | None = None
    updated: str | None = None
    guid_is_link = False
    for read_as, child in _children(item, "an item", RSS_READ, f):
        if read_as == "link":
            if not (child.text or "").strip():
                raise Refused("an item has an empty <link>")
            f.link = _amp_fixed(as_feedparser(join(base, child.text.strip())))
        elif read_as == "guid":
            guid_is_link = (child.get("isPermaLink") or child.get("ispermalink") or "true") == "true"
            text = (child.text or "").strip()
            f.key = as_feedparser(join(base, text) if guid_is_link and text else text)
        elif read_as == "pubdate":
            published = _text(child)
        elif read_as == "dc_date":
            updated = _text(child)
        elif read_as in ("author", "dc_creator", "itunes_author"):
            if f.author is not None:
                raise Refused("an item names its author twice (author, dc:creator, itunes:author)")
            f.author = _text(child)
        elif read_as == "title":
            _read_title(f, child)
            if f.title_type == "text/plain" and ("<" in f.title or "&" in f.title) and _FeedParserMixin.looks_like_html(f.title):
                f.title_type = "text/html"  # feedparser's guess for an RSS title
    if guid_is_link and f.link is None and f.key:
        f.link = f.key
    _link_or_first_alternate(f, base)
    _read_date(f, published, updated)
    return f


def atom_fields(entry: Any, base: str) -> Fields:
    """An Atom entry's fields by feedparser's rules, links and ids resolved against `base`."""
    f = Fields()
    published: str | None = None
    updated: str | None = None
    for read_as, child in _children(entry, "an entry", ATOM_READ, f):
        if read_as == "link":
            if child.get("href") is None:
                raise Refused("an Atom link without href")
            if f.first_alternate is None and child.get("rel", "alternate").lower() == "alternate":
                f.first_alternate = child.get("href")
            f.link = join(base, child.get("href", ""))  # attributes skip feedparser's text repairs
        elif read_as == "id":
            text = (child.text or "").strip()
            f.key = as_feedparser(join(base, text) if text else text)
        elif read_as == "published":
            published = _text(child)
        elif read_as == "updated":
            updated = _text(child)
        elif read_as == "title":
            _read_title(f, child)
        elif read_as == "author":
            f.author = _atom_author(child)
    if f.link is None and f.key:
        f.link = f.key
    _link_or_first_alternate(f, base)
    _read_date(f, published, updated)
    return f


def _link_or_first_alternate(f: Fields, base: str) -> None:
    if not f.link and f.first_alternate is not None:
        f.link = join(base, f.first_alternate)


def _children(item: Any, kind: str, allowed: dict[str, tuple[str, str]], f: Fields) -> list[tuple[str, Any]]:
    """(feedparser's name, element) of the item's children read here. Summaries and contents, also nested
    ones (media:group/media:description), go into `f` in document order. Refused: a repeated field, or
    any element feedparser reads into a field we use other than these."""
    out: list[tuple[str, Any]] = []
    seen: set[str] = set()
    nested_title = False
    for child in item:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        ns, name, read_as = _names(tag, child.prefix)
        if read_as == "link" and ns == ATOM_NS and child.get("href") is not None and not is_alternate(child):
            # feedparser files it under links, not as the link; the first alternate one is the link of an
            # item with no other (rss._first_alternate)
            if f.first_alternate is None and child.get("rel", "alternate").lower() == "alternate":
                f.first_alternate = child.get("href")
            continue
        if read_as in allowed:
            if len(child) and read_as != "author":
                raise Refused(f"markup inside <{name}>")
            if allowed[read_as] != (ns, name):
                raise Refused(f"{kind} has <{child.prefix + ':' if child.prefix else ''}{name}> for <{allowed[read_as][1]}>")
            if read_as in seen and read_as != "link":
                raise Refused(f"{kind} repeats <{name}>")
            seen.add(read_as)
            out.append((read_as, child))
        elif read_as in _SUMMARIES or read_as in _CONTENTS:
            _read_text(f, read_as, child, 1)
        else:
            for el in child.iter():
                if not isinstance(el.tag, str) or el is child:
                    continue
                inner = _names(el.tag, el.prefix)[2]
                if inner in _SUMMARIES or inner in _CONTENTS:
                    _read_text(f, inner, el, _depth(el, item))
                elif inner == "media_title":
                    nested_title = True  # feedparser keeps the item's own title over a deeper one
                elif not _is_harmless(el, inner):
                    raise Refused(f"{kind} has <{el.prefix + ':' if el.prefix else ''}{_names(el.tag, el.prefix)[1]}>")
            if not _is_harmless(child, read_as):
                raise Refused(f"{kind} has <{child.prefix + ':' if child.prefix else ''}{name}>")
    if nested_title and "title" not in seen:
        raise Refused(f"{kind} has a <media:title> and no title of its own")
    return out


def _read_text(f: Fields, read_as: str, el: Any, depth: int) -> None:
    """feedparser's filing of a summary or content: the first summary-like element is the summary; the
    next, while no content was seen, becomes content; later ones replace the summary when no deeper
    than it. A content element is content, and the summary where there is none yet."""
    if len(el) or el.get("mode") is not None:
        raise Refused(f"markup or an encoding mode in <{read_as}>")
    kind = _FeedParserMixin.map_content_type(el.get("type", _SUMMARIES.get(read_as) or _CONTENTS[read_as]))
    if not kind.startswith("text/") and not kind.endswith(("+xml", "/xml")):
        raise Refused(f"<{read_as}> of type {kind}, which feedparser decodes as base64")
    value = _text(el)
    if read_as in _CONTENTS:
        f.contents.append(value)
        if f.summary is None and kind in _TEXT_TYPES:
            f.summary = value
    elif f.summary is not None and len(f.contents) == 0:
        f.contents.append(value)
    elif f.summary_depth is None or depth <= f.summary_depth:
        f.summary, f.summary_depth = value, depth


def _depth(el: Any, item: Any) -> int:
    depth, parent = 1, el.getparent()
    while parent is not item:
        depth, parent = depth + 1, parent.getparent()
    return depth


def _atom_author(author: Any) -> str | None:
    name: str | None = None
    for child in author:
        if not isinstance(child.tag, str):
            continue
        if child.tag == f"{{{ATOM_NS}}}name" and not len(child):
            name = _text(child)
        elif child.tag != f"{{{ATOM_NS}}}uri":
            raise Refused(f"an Atom author with <{_names(child.tag, child.prefix)[1]}>")  # feedparser adds an email
    return name or None


def _text(el: Any) -> str:
    return as_feedparser((el.text or "").strip())


def _read_title(f: Fields, el: Any) -> None:
    f.title = _text(el)
    f.title_type = _FeedParserMixin.map_content_type(el.get("type", "text/plain"))


def _read_date(f: Fields, published: str | None, updated: str | None) -> None:
    """feedparser's choice: the published date where it parses, else the updated one (parsed as it does)."""
    when = parse_date(published) if published else None
    f.date_raw, f.date = (published, when) if when else (updated, parse_date(updated) if updated else None)


# A date written in full (RFC 822 with a year and a zone, W3DTF with a time and a zone) reads the same
# whenever it is read; feedparser fills a partial one from the clock, so only full ones are remembered.
_FULL_DATE = re.compile(
    r"(?:[A-Za-z]{3}, )?\d{1,2} [A-Za-z]{3} \d{4} \d{2}:\d{2}(?::\d{2})? (?:GMT|UTC|UT|[+-]\d{4})"
    r"|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})"
)


def parse_date(text: str) -> datetime | None:
    """A date as feedparser parses it (in UTC), remembered when written in full: a feed's items and the
    feeds of one outlet repeat their dates."""
    return _full_date(text) if _FULL_DATE.fullmatch(text) else struct_to_dt(_parse_date(text))


@functools.lru_cache(maxsize=4096)
def _full_date(text: str) -> datetime | None:
    return struct_to_dt(_parse_date(text))


def is_alternate(link: Any) -> bool:
    """True for an Atom link feedparser takes as the item's link: rel alternate (the default), HTML type."""
    rel = link.get("rel", "alternate").lower()  # feedparser lowers rel and type
    kind = link.get("type", "application/atom+xml" if rel == "self" else "text/html")
    return rel == "alternate" and _FeedParserMixin.map_content_type(kind) in _HTML_TYPES


def _names(tag: str, prefix: str | None) -> tuple[str, str, str]:
    """(namespace, local name, feedparser's name) of a tag, remembered for the tags seen before."""
    key = (tag, prefix)
    names = _NAMES.get(key)
    if names is None:
        ns, _, name = tag[1:].partition("}") if tag[0] == "{" else ("", "", tag)
        names = (ns, name, feedparser_name(ns, prefix, name))
        if len(_NAMES) < _CACHE_MAX:
            _NAMES[key] = names
    return names


def feedparser_name(ns: str, prefix: str | None, name: str) -> str:
    """The name feedparser gives an element: its own prefix for a namespace it knows, then the local name."""
    if ns:
        known = _PREFIXES.get(ns.lower(), prefix)
        prefix = known if "backend.userland.com/rss" not in ns.lower() else ""
    return f"{prefix.lower()}_{name.lower()}" if prefix else name.lower()


def _is_harmless(el: Any, read_as: str) -> bool:
    """True when feedparser reads the element into nothing we use (no handler, or one for tags and media)."""
    key = (el.tag, el.prefix)
    verdict = _HARMLESS.get(key)
    if verdict is None:
        handled = hasattr(_FeedParserMixin, f"_start_{read_as}") or hasattr(_FeedParserMixin, f"_end_{read_as}")
        verdict = not handled or read_as in _SAFE_HANDLERS
        if len(_HARMLESS) < _CACHE_MAX:
            _HARMLESS[key] = verdict
    return verdict


def join(base: str, uri: str, joiner: Callable[[str, str], str] = _urljoin) -> str:
    """`joiner(base, uri)` (feedparser's join or urllib's), without parsing the common cases whose answer is
    known: a plain absolute http(s) URL comes back as it is, so does a URI of another scheme (urn:, tag:),
    and a bare name (a numeric guid) lands in the base's directory."""
    if _PLAIN_URL.fullmatch(uri):
        return uri
    folder = _folder(base)
    if folder is not None:
        other = _OTHER_SCHEME.match(uri)
        if other is not None and other.group(1).lower() not in ("http", "https"):
            return uri
        if _BARE_NAME.fullmatch(uri):
            return folder + uri
    return joiner(base, uri)


@functools.lru_cache(maxsize=64)
def _folder(base: str) -> str | None:
    """The directory a bare name joins onto, for an http(s) base urljoin leaves as it is; else None."""
    if not _PLAIN_URL.fullmatch(base) or "?" in base or "#" in base:
        return None
    rest = base.split("://", 1)[1]
    slash = rest.find("/")
    if slash < 0:
        return base + "/"
    if "/." in rest[slash:] or "//" in rest[slash:]:
        return None  # urljoin would remove dot segments and empty ones
    return base[: base.rfind("/") + 1]


def as_feedparser(value: str) -> str:
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
