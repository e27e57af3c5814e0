"""The value rules of feeds.yaml (pure): durations, channel usernames, feed URLs, time zones.

Every duration has bounds, so no value can overflow a date later on (the poll scheduler adds the
interval to the clock, the health rules the pause delay):

    interval        1s to 7d     (1s is for local feeds and tests; public feeds want minutes)
    pause_after     1h to 365d
    max_age         1h to 365d, or off
"""

from __future__ import annotations

import ipaddress
import math
import re
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY = 86400
DURATION_BOUNDS = (1, 365 * DAY)  # any duration at all
INTERVAL_BOUNDS = (1, 7 * DAY)
PAUSE_AFTER_BOUNDS = (3600, 365 * DAY)
MAX_AGE_BOUNDS = (3600, 365 * DAY)
MAX_URL_LENGTH = 2048

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": DAY, None: 1}
_CHANNEL = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,30}[A-Za-z0-9]$")
_TME = re.compile(r"^(?:https?://)?(?:www\.)?(?:t\.me|telegram\.me)/(?:s/)?([^/?#]+)/?$")
_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")


def format_bound(seconds: int) -> str:
    """A bound in the largest whole unit: 604800 -> '7d', 3600 -> '1h', 90 -> '90s'."""
    for unit, size in (("d", DAY), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def parse_duration(value: object, bounds: tuple[int, int] = DURATION_BOUNDS) -> int:
    """'90s', '5m', '1h', '2d' or a number of seconds -> seconds, within `bounds` (ValueError otherwise)."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration like 90s, 5m, 1h")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise ValueError(f"{value!r} is not a duration like 90s, 5m, 1h")
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    low, high = bounds
    if math.isnan(seconds):
        raise ValueError(f"{value!r} is not a duration like 90s, 5m, 1h")
    if seconds < low:
        raise ValueError(f"{value!r} is shorter than {format_bound(low)} (allowed: {format_bound(low)} to {format_bound(high)})")
    if seconds > high:
        raise ValueError(f"{value!r} is longer than {format_bound(high)} (allowed: {format_bound(low)} to {format_bound(high)})")
    return int(seconds)


def parse_channel(value: str) -> str:
    """'name', '@name', 't.me/name', 'https://t.me/s/name' -> 'name' (Telegram's public username rules)."""
    raw = value.strip()
    m = _TME.match(raw)
    name = m.group(1) if m else raw.removeprefix("@")
    if not _CHANNEL.match(name) or "__" in name:
        raise ValueError(
            f"{value!r} is not a public channel username "
            "(5 to 32 characters: letters, digits and underscores, starting with a letter)"
        )
    return name


def check_feed_url(url: str) -> str:
    """Return `url` if it is an http(s) URL with a valid host; ValueError saying what is wrong otherwise."""
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(f"the URL is longer than {MAX_URL_LENGTH} characters")
    bad = next((c for c in url if c.isspace() or ord(c) < 32 or ord(c) == 127), None)
    if bad is not None:
        what = "a space" if bad == " " else f"the control character {bad!r}"
        raise ValueError(f"{url!r} is not a valid URL: it contains {what} (write %20 for a space in a path)")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (urlsplit checks the port only when asked)
    except ValueError as e:
        raise ValueError(f"{url!r} is not a valid URL: {e}") from None
    if parts.scheme.lower() not in ("http", "https") or not url.lower().startswith(("http://", "https://")):
        raise ValueError(f"{url!r} is not an http(s) URL")
    host = parts.hostname or ""
    if not host:
        raise ValueError(f"{url!r} is not a valid URL: it has no host name")
    if not is_valid_host(host):
        raise ValueError(f"{url!r} is not a valid URL: {host!r} is not a valid host name")
    return url


def is_valid_host(host: str) -> bool:
    """True for an IP address or a DNS name (internationalised names allowed) of valid labels."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        return False
    labels = ascii_host.lower().removesuffix(".").split(".")
    return len(ascii_host) <= 253 and all(_LABEL.match(label) for label in labels)


def check_timezone(name: str) -> ZoneInfo:
    """Return the IANA zone or raise ValueError with a helpful message."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not an IANA time zone like Europe/Kyiv or UTC") from None
