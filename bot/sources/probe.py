"""Try a candidate feed before it is added: fetch it once through the guarded fetcher and parse it.

A web page that is not a feed but names one (`<link rel="alternate">`) leads to that feed. Every
refusal is a CommandError saying why, in words an admin can act on.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bot.errors import BlockedURL, CommandError, FetchError, NotAFeed, ParseError
from bot.models import FetchResult
from bot.sources.discover import find_feed_links
from bot.sources.fetcher import Fetcher
from bot.sources.parsing import parse_body


@dataclass(frozen=True)
class Probe:
    """What fetching a candidate feed once found (`url` is the feed's, when a page named it)."""

    title: str
    items: int
    url: str


class FeedProbe:
    """Fetches a candidate feed once, through the guarded fetcher (SSRF rules apply), and parses it.
    A web page that is not a feed but names one (`<link rel="alternate">`) leads to that feed."""

    def __init__(self, fetcher: Fetcher, web_url: str) -> None:
        self.fetcher, self.web_url = fetcher, web_url.rstrip("/")

    async def probe(self, kind: str, url: str) -> Probe:
        """Fetch and parse `url`; CommandError saying why it is not a feed or a public channel."""
        res = await self._fetch(url)
        try:
            parsed = await asyncio.to_thread(parse_body, kind, res.body, res.headers, res.url)
        except ParseError as e:
            links = find_feed_links(res.body, res.url) if kind == "rss" else []
            if not links:
                raise CommandError(_refusal(kind, e)) from e
            return await self._probe_named(links[0], url)
        return Probe(parsed.title or "", len(parsed.items), url)

    async def _probe_named(self, feed_url: str, page_url: str) -> Probe:
        res = await self._fetch(feed_url)
        try:
            parsed = await asyncio.to_thread(parse_body, "rss", res.body, res.headers, res.url)
        except NotAFeed as e:
            raise CommandError(f"the page names the feed {feed_url}, but it is not one (it looks like {e.looks_like})") from e
        except ParseError as e:
            raise CommandError(f"the page names the feed {feed_url}, but it is not one: {e}") from e
        return Probe(parsed.title or "", len(parsed.items), feed_url)

    async def _fetch(self, url: str) -> FetchResult:
        try:
            return await self.fetcher.fetch(url)
        except BlockedURL as e:
            raise CommandError(f"refused: {e}") from e
        except FetchError as e:
            raise CommandError(f"could not fetch it: {e}") from e


def _refusal(kind: str, error: ParseError) -> str:
    """Why a body is refused: what it looks like when that is plain, else the parser's own words."""
    if kind == "telegram":
        return f"not a public channel: {error}"
    if isinstance(error, NotAFeed):
        names = ", and it names no feed" if error.looks_like == "an HTML page" else ""
        return f"not a feed (it looks like {error.looks_like}{names})"
    return f"not a feed: {error}"
