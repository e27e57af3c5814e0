"""Story identity by address (pure): canonical URLs and content hashes.

A URL is canonical once its scheme and host are lower case, the default port, the fragment and the
tracking parameters (utm_*, mtm_*, fbclid, gclid, ...) are gone and the remaining query parameters are
sorted. Two items with the same canonical article URL are one story, whatever feed they came from; so
are a Telegram post and the post it forwards or links. A site's home page is no article URL: some feeds
give it as every item's link. Items with no such tie are joined by their content (`bot.clustering`).
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from bot.matching.normalize import tokenize

TRACKING_PREFIXES = ("utm_", "mtm_", "pk_", "at_", "itm_", "ga_", "hsa_")
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_hsenc",
        "_hsmi",
        "ref",
        "ref_src",
        "cmpid",
        "ito",
        "ns_mchannel",
        "ns_source",
        "ns_campaign",
        "ns_linkname",
        "ns_fee",
        "at_medium",
        "at_campaign",
        "rss",
        "cid",
        "smid",
        "xtor",
        "s_cid",
    }
)


@lru_cache(maxsize=4096)
def canonical_url(url: str | None) -> str | None:
    """The URL two copies of the same article share, or None when there is no usable URL (cached: an
    item's URL is asked for several times while it is stored)."""
    if not url:
        return None
    url = url.strip()
    plain = _PLAIN_URL.fullmatch(url)
    if plain:  # most article links: what the general path below makes of them, without splitting them
        path = plain[2] or "/"
        return f"https://{plain[1]}{path.rstrip('/') if len(path) > 1 else path}"
    return _canonical_url(url)


# An http(s) URL whose host is lower-case letters, digits, dots and hyphens (no port, no user) and
# whose path has no query, fragment or white space: its canonical form is https://host/path, without
# the host's "www." (one, as removeprefix takes it).
_PLAIN_URL = re.compile(r"https?://(?:www\.)?([a-z0-9][a-z0-9.-]*)(/[^?#\s]*)?")


def _canonical_url(url: str) -> str | None:
    """`canonical_url` of a stripped URL, by splitting it."""
    if url.startswith("//"):
        url = "https:" + url
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower().removeprefix("www.")
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    path = parts.path or "/"
    if len(path) > 1:
        path = path.rstrip("/")
    # http and https are one article: the canonical form keeps no scheme distinction.
    if not parts.query:
        return f"https://{host}{path}"
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in TRACKING_PARAMS and not k.lower().startswith(TRACKING_PREFIXES)
    )
    return urlunsplit(("https", host, path, urlencode(query), ""))


def story_url(url: str | None) -> str | None:
    """The canonical URL when it can name one article: a site's home page (some feeds give it as
    every item's link) names none."""
    canonical = canonical_url(url)
    if canonical is None:
        return None
    host, _, rest = canonical.removeprefix("https://").partition("/")
    if "t.me" not in host and "telegram.me" not in host:  # read from the canonical form, split once already
        return canonical if rest else None  # a path beyond "/" or a query
    parts = urlsplit(canonical)
    if parts.hostname in ("t.me", "telegram.me"):  # a post: t.me/<channel>/<n>, t.me/s/<channel>/<n>?single
        path = parts.path.removeprefix("/s/").strip("/")
        return f"https://t.me/{path}" if path.count("/") == 1 else None
    return canonical if parts.path not in ("", "/") or parts.query else None


def text_digest(title: str, text: str) -> str:
    """An exact fingerprint of an item's title and text: equal digests, unchanged item."""
    return hashlib.blake2b(f"{title}\0{text}".encode(), digest_size=12).hexdigest()


def content_hash(*parts: str) -> str:
    """A short, stable hash of normalised words (items with no guid and no link)."""
    words = " ".join(tokenize(" ".join(parts)))
    return hashlib.sha1(words.encode("utf-8")).hexdigest()[:20]
