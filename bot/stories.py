"""Story identity (pure): canonical URLs, and near-duplicate clustering of items into stories.

Rules, in order:
1. A URL is canonical once its scheme and host are lower case, the default port, the fragment and the
   tracking parameters (utm_*, mtm_*, fbclid, gclid, ...) are gone and the remaining query parameters
   are sorted. Two items with the same canonical URL are the same story, whatever feed they came from.
2. Otherwise an item joins the most similar story of the last 48 hours that shares one of its topics,
   when the similarity of their signatures reaches CLUSTER_THRESHOLD. A signature is the set of word
   keys (each word and its forms without an inflection ending, see morphology) of the title and the
   lead's first 40 words, without short words and numbers; the
   similarity is the overlap coefficient |A & B| / min(|A|, |B|), which forgives a short rewrite of a
   long lead; a signature of fewer than MIN_SIGNATURE keys (a bare headline) never joins a story. The threshold was set on tests/data/eval_headlines.tsv (see tests/test_eval.py).
3. Otherwise the item opens a new story.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from bot.matching.morphology import token_keys
from bot.matching.normalize import is_hangul, tokenize

CLUSTER_WINDOW = timedelta(hours=48)
CLUSTER_THRESHOLD = 0.6
LEAD_WORDS = 40
MIN_SIGNATURE = 6  # fewer keys than this (a bare headline) is too little to call two items one story

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


def canonical_url(url: str | None) -> str | None:
    """The URL two copies of the same article share, or None when there is no usable URL."""
    if not url:
        return None
    url = url.strip()
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
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in TRACKING_PARAMS and not k.lower().startswith(TRACKING_PREFIXES)
    )
    path = parts.path or "/"
    if len(path) > 1:
        path = path.rstrip("/")
    # http and https are one article: the canonical form keeps no scheme distinction.
    return urlunsplit(("https", host, path, urlencode(query), ""))


def content_hash(*parts: str) -> str:
    """A short, stable hash of normalised words (items with no guid and no link)."""
    words = " ".join(tokenize(" ".join(parts)))
    return hashlib.sha1(words.encode("utf-8")).hexdigest()[:20]


def signature(title: str, text: str) -> frozenset[str]:
    """The word stems that identify an item's content (title and the lead's first words)."""
    words = tokenize(title) + tokenize(text)[:LEAD_WORDS]
    stems: set[str] = set()
    for w in words:
        if len(w) >= (2 if is_hangul(w) else 4) and not w.isdigit():
            stems.update(token_keys(w))
    return frozenset(stems)


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Overlap coefficient of two signatures (0 when either is too small to judge)."""
    if len(a) < MIN_SIGNATURE or len(b) < MIN_SIGNATURE:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def choose_story(
    sig: frozenset[str], candidates: Iterable[tuple[int, frozenset[str]]], threshold: float = CLUSTER_THRESHOLD
) -> int | None:
    """The id of the most similar candidate story at or above the threshold, or None."""
    best, best_score = None, threshold
    for story_id, other in candidates:
        score = similarity(sig, other)
        if score >= best_score:
            best, best_score = story_id, score
    return best


def encode_signature(sig: frozenset[str]) -> str:
    """A signature as stored (space-separated, sorted)."""
    return " ".join(sorted(sig))


def decode_signature(text: str | None) -> frozenset[str]:
    """A stored signature back to a set."""
    return frozenset(text.split()) if text else frozenset()
