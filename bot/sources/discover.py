"""Feed autodiscovery: the feeds a web page names in `<link rel="alternate">` (pure).

An admin often pastes a site's address rather than its feed's. The page's head usually names its
feeds (RSS, Atom or JSON Feed); they are returned absolute, in page order, without duplicates.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser

FEED_TYPES = {
    "application/rss+xml",
    "application/atom+xml",
    "application/rdf+xml",
    "application/feed+json",
    "application/json",
}


def find_feed_links(body: bytes, page_url: str) -> list[str]:
    """Absolute http(s) URLs of the feeds a page links to as alternates."""
    tree = LexborHTMLParser(body)
    found: list[str] = []
    for link in tree.css("link[rel][href]"):
        rels = (link.attributes.get("rel") or "").lower().split()
        kind = (link.attributes.get("type") or "").lower().split(";")[0].strip()
        href = (link.attributes.get("href") or "").strip()
        if "alternate" not in rels or kind not in FEED_TYPES or not href:
            continue
        url = urljoin(page_url, href)
        if urlsplit(url).scheme in ("http", "https") and url not in found:
            found.append(url)
    return found
