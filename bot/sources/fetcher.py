"""Fetch feed bodies over HTTP with aiohttp.

One ClientSession for every feed. Conditional GET (If-None-Match / If-Modified-Since) so an unchanged
feed costs one 304; gzip/deflate decoded by aiohttp; redirects followed by hand (at most 5) so that
every hop is checked and a permanent one (301/308) is reported; a size cap enforced while streaming
(on the decoded bytes, so a gzip bomb is cut too); per-host and overall concurrency limits.

SSRF guard: unless private URLs are allowed, a URL is refused when its scheme is not http(s), when
its host is an IP literal that is not public, or when any address its name resolves to is not
public. The check on names runs inside the resolver, at connect time, for every hop.
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import logging
import socket
import time
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from bot import __version__
from bot.errors import BlockedURL, BodyTooLarge, FetchError, FetchTimeout, HTTPStatusError
from bot.models import FetchResult

log = logging.getLogger(__name__)

USER_AGENT = f"Newswatch/{__version__} (+https://github.com/newswatch; feed monitor bot)"
ACCEPT = "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, application/xml;q=0.9, text/xml;q=0.8, text/html;q=0.7, */*;q=0.5"
MAX_REDIRECTS = 5


def is_public_address(address: str) -> bool:
    """True for a globally routable unicast address (not loopback, private, link-local, multicast...)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class GuardedResolver(AbstractResolver):
    """Resolve with the default resolver, then refuse names that resolve to non-public addresses."""

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        """Resolve `host`; raise BlockedURL when any address is not public."""
        results = await self._inner.resolve(host, port, family)
        for r in results:
            if not is_public_address(r["host"]):
                raise BlockedURL(f"fetcher: {host} resolves to {r['host']}, which is not a public address")
        return results

    async def close(self) -> None:
        """Close the inner resolver."""
        await self._inner.close()


def check_url(url: str, allow_private: bool) -> URL:
    """Parse and check a URL before any connection: scheme, and host when it is an IP literal."""
    try:
        u = URL(url)
    except ValueError as e:
        raise BlockedURL(f"fetcher: {url!r} is not a valid URL") from e
    if u.scheme not in ("http", "https") or not u.host:
        raise BlockedURL(f"fetcher: only http and https URLs are fetched, not {url!r}")
    if not allow_private:
        host = u.host.strip("[]")
        address = _ip_literal(host)
        if address is None and (host.rstrip(".").lower() == "localhost" or host.lower().endswith(".localhost")):
            raise BlockedURL(f"fetcher: {url} points at this machine")
        if address is not None and not is_public_address(address):
            raise BlockedURL(f"fetcher: {url} points at the non-public address {address}")
    return u


def _ip_literal(host: str) -> str | None:
    """The address a host names without DNS: an IP literal, or a legacy IPv4 form the C resolver
    would accept (0x7f000001, 127.1, 2130706433, 0177.0.0.1); None for a name."""
    try:
        return str(ipaddress.ip_address(host.split("%", 1)[0]))
    except ValueError:
        pass
    try:
        return str(ipaddress.IPv4Address(socket.inet_aton(host)))
    except (OSError, ValueError):
        return None


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds to wait (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


class Fetcher:
    """Conditional GETs through one shared aiohttp session; use as an async context manager."""

    def __init__(
        self,
        *,
        timeout_s: float = 20.0,
        max_bytes: int = 10_000_000,
        concurrency: int = 50,
        per_host: int = 4,
        allow_private: bool = False,
    ) -> None:
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes
        self.concurrency = concurrency
        self.per_host = per_host
        self.allow_private = allow_private
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Fetcher:
        connector = aiohttp.TCPConnector(
            limit=self.concurrency,
            limit_per_host=self.per_host,
            ttl_dns_cache=300,
            resolver=None if self.allow_private else GuardedResolver(),
        )
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.timeout_s, sock_read=self.timeout_s)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=timeout,
            headers={"User-Agent": USER_AGENT, "Accept": ACCEPT, "Accept-Encoding": "gzip, deflate"},
        )
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session and its connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(self, url: str, etag: str | None = None, last_modified: str | None = None) -> FetchResult:
        """GET `url` conditionally; return the body, or a 304 result. Raise a FetchError subclass."""
        if self._session is None:
            raise FetchError("fetcher: used outside 'async with'")
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        current, permanent = url, True
        for _ in range(MAX_REDIRECTS + 1):
            target = check_url(current, self.allow_private)
            try:
                async with asyncio.timeout(self.timeout_s * 3):
                    result = await self._get(target, headers)
            except TimeoutError as e:
                raise FetchTimeout(f"fetcher: timeout after {self.timeout_s:g} s reading {current}") from e
            if isinstance(result, tuple):  # a redirect: (status, location)
                permanent = permanent and result[0] in (301, 308)
                current = result[1]
                continue
            if current != url and permanent:
                return FetchResult(**{**result.__dict__, "permanent_url": current})
            return result
        raise FetchError(f"fetcher: more than {MAX_REDIRECTS} redirects from {url}")

    async def _get(self, url: URL, headers: dict[str, str]) -> FetchResult | tuple[int, str]:
        assert self._session is not None
        try:
            async with self._session.get(url, headers=headers, allow_redirects=False) as resp:
                if resp.status in (301, 302, 303, 307, 308):
                    location = resp.headers.get("Location")
                    if not location:
                        raise HTTPStatusError(f"fetcher: HTTP {resp.status} without Location from {url}", resp.status)
                    return resp.status, str(url.join(URL(location)))
                if resp.status == 304:
                    return FetchResult(
                        str(url), 304, etag=resp.headers.get("ETag"), last_modified=resp.headers.get("Last-Modified")
                    )
                if resp.status >= 400:
                    raise HTTPStatusError(
                        f"fetcher: HTTP {resp.status} {resp.reason or ''} from {url}".replace("  ", " "),
                        resp.status,
                        parse_retry_after(resp.headers.get("Retry-After")),
                    )
                body = await self._read_capped(resp, url)
                return FetchResult(
                    str(url),
                    resp.status,
                    body,
                    _plain_headers(resp.headers),
                    etag=resp.headers.get("ETag"),
                    last_modified=resp.headers.get("Last-Modified"),
                )
        except BlockedURL:
            raise
        except aiohttp.InvalidURL as e:  # includes legacy numeric IPv4 forms such as 127.1
            raise BlockedURL(f"fetcher: {url} is not a valid URL: {e}") from e
        except aiohttp.ClientConnectorError as e:
            if isinstance(e.os_error, BlockedURL):
                raise e.os_error from e
            raise FetchError(f"fetcher: cannot connect to {url.host}: {e.os_error.strerror or e}") from e
        except (TimeoutError, aiohttp.ServerTimeoutError) as e:
            raise FetchTimeout(f"fetcher: timeout after {self.timeout_s:g} s reading {url}") from e
        except aiohttp.ClientError as e:
            cause = e.__cause__ or e.__context__
            if isinstance(cause, BlockedURL):
                raise cause from e
            raise FetchError(f"fetcher: {type(e).__name__} reading {url}: {e}") from e

    async def _read_capped(self, resp: aiohttp.ClientResponse, url: URL) -> bytes:
        length = resp.content_length
        if length is not None and length > self.max_bytes and "Content-Encoding" not in resp.headers:
            raise BodyTooLarge(f"fetcher: {url} is {length} bytes, over the {self.max_bytes} byte cap")
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(65536):
            size += len(chunk)
            if size > self.max_bytes:
                raise BodyTooLarge(f"fetcher: {url} went over the {self.max_bytes} byte cap; download aborted")
            chunks.append(chunk)
        return b"".join(chunks)


def _plain_headers(headers: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}
