"""OPML 2.0, the feed list format every feed reader imports and exports (pure: text in, data out).

Export writes one `<outline type="rss">` per feed; a Telegram channel is exported as its public web
preview, `https://t.me/s/<name>`, which is also how an import recognises one. Import reads every
outline with an `xmlUrl` at any depth (readers nest them in folders) and ignores the folders.
ElementTree never fetches external entities, and the expat bundled with Python 3.11 refuses
entity-expansion bombs, so an OPML file from anywhere is safe to read.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from urllib.parse import urlsplit

from bot.config import parse_channel
from bot.errors import ConfigError
from bot.models import FeedConfig

PUBLIC_WEB = "https://t.me"


@dataclass(frozen=True)
class OpmlFeed:
    """One feed found in an OPML file: a URL, or a Telegram channel username."""

    name: str
    url: str | None = None
    telegram: str | None = None


def export_opml(feeds: Sequence[FeedConfig], now: datetime, title: str = "Newswatch feeds") -> str:
    """The feeds as an OPML 2.0 document."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = format_datetime(now)
    body = ET.SubElement(root, "body")
    for f in feeds:
        attrs = {"type": "rss", "text": f.name, "title": f.name}
        if f.kind == "telegram":
            channel = f.source.removeprefix("tg:")
            attrs |= {"xmlUrl": f"{PUBLIC_WEB}/s/{channel}", "htmlUrl": f"{PUBLIC_WEB}/{channel}"}
        else:
            attrs["xmlUrl"] = f.url
        ET.SubElement(body, "outline", attrs)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def parse_opml(text: str | bytes, source: str = "OPML") -> list[OpmlFeed]:
    """Every feed outline of an OPML document, in document order; ConfigError when it is not OPML."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as e:
        raise ConfigError(f"opml: {source} is not well-formed XML: {e}") from None
    if root.tag.lower() != "opml":
        raise ConfigError(f"opml: {source} is not OPML (its root element is <{root.tag}>)")
    feeds: list[OpmlFeed] = []
    for outline in root.iter("outline"):
        attrs = {k.lower(): v.strip() for k, v in outline.attrib.items()}
        url = attrs.get("xmlurl")
        if not url:
            continue
        name = attrs.get("title") or attrs.get("text") or ""
        channel = _channel_of(url)
        feeds.append(OpmlFeed(name, telegram=channel) if channel else OpmlFeed(name, url=url))
    return feeds


def _channel_of(url: str) -> str | None:
    host = (urlsplit(url).hostname or "").lower().removeprefix("www.")
    if host not in ("t.me", "telegram.me"):
        return None
    try:
        return parse_channel(url)
    except ValueError:
        return None
