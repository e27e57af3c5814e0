from __future__ import annotations

import pytest

from bot.errors import BlockedURL, BodyTooLarge, FetchTimeout, HTTPStatusError
from bot.sources.fetcher import Fetcher, GuardedResolver, check_url, is_public_address, parse_retry_after
from tests.feedserver import FeedServer, rss

BODY = rss([{"title": "One", "link": "https://example.org/1", "guid": "1"}])


def local_fetcher(**kw: object) -> Fetcher:
    return Fetcher(allow_private=True, timeout_s=kw.pop("timeout_s", 2.0), **kw)  # type: ignore[arg-type]


async def test_etag_second_fetch_is_304(server: FeedServer) -> None:
    url = server.set("/feed", body=BODY, etag='"v1"')
    async with local_fetcher() as f:
        first = await f.fetch(url)
        second = await f.fetch(url, etag=first.etag)
    assert first.status == 200 and first.body == BODY and first.etag == '"v1"'
    assert second.not_modified and second.body == b""
    assert server.requests[-1][1]["If-None-Match"] == '"v1"'


async def test_last_modified_second_fetch_is_304(server: FeedServer) -> None:
    lm = "Mon, 21 Oct 2024 10:00:00 GMT"
    url = server.set("/feed", body=BODY, last_modified=lm)
    async with local_fetcher() as f:
        first = await f.fetch(url)
        second = await f.fetch(url, last_modified=first.last_modified)
    assert first.last_modified == lm
    assert second.not_modified


@pytest.mark.parametrize(("status", "permanent"), [(301, True), (308, True), (302, False), (307, False)])
async def test_redirects_followed_and_permanent_ones_reported(server: FeedServer, status: int, permanent: bool) -> None:
    target = server.set("/new", body=BODY)
    url = server.set("/old", status=status, redirect="/new")
    async with local_fetcher() as f:
        res = await f.fetch(url)
    assert res.body == BODY
    assert res.url == target
    assert res.permanent_url == (target if permanent else None)


async def test_gzip_body_is_decoded(server: FeedServer) -> None:
    url = server.set("/gz", body=BODY, gzip=True)
    async with local_fetcher() as f:
        res = await f.fetch(url)
    assert res.body == BODY


async def test_huge_body_is_aborted_at_the_cap(server: FeedServer) -> None:
    url = server.set("/huge", stream_bytes=20_000_000)
    async with local_fetcher(max_bytes=1_000_000) as f:
        with pytest.raises(BodyTooLarge, match="cap"):
            await f.fetch(url)


async def test_gzip_bomb_is_cut_at_the_cap(server: FeedServer) -> None:
    url = server.set("/bomb", body=b"<rss>" + b" " * 30_000_000, gzip=True)
    async with local_fetcher(max_bytes=1_000_000) as f:
        with pytest.raises(BodyTooLarge):
            await f.fetch(url)


async def test_server_that_never_answers_times_out(server: FeedServer) -> None:
    url = server.set("/slow", body=BODY, delay=30)
    async with local_fetcher(timeout_s=0.5) as f:
        with pytest.raises(FetchTimeout, match=r"fetcher: timeout after 0.5 s"):
            await f.fetch(url)


async def test_error_status_carries_retry_after(server: FeedServer) -> None:
    url = server.set("/busy", status=429, headers={"Retry-After": "120"})
    async with local_fetcher() as f:
        with pytest.raises(HTTPStatusError) as info:
            await f.fetch(url)
    assert info.value.status == 429 and info.value.retry_after == 120


async def test_user_agent_names_the_bot(server: FeedServer) -> None:
    url = server.set("/feed", body=BODY)
    async with local_fetcher() as f:
        await f.fetch(url)
    assert server.requests[-1][1]["User-Agent"].startswith("Newswatch/")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/feed",
        "http://10.0.0.1/feed",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/feed",
        "http://localhost/feed",
        "http://0x7f000001/feed",
        "http://127.1/feed",
        "http://2130706433/feed",
        "http://0177.0.0.1/feed",
        "http://[::ffff:10.0.0.1]/feed",
        "ftp://example.org/feed",
        "file:///etc/passwd",
    ],
)
def test_check_url_refuses_non_public_targets(url: str) -> None:
    with pytest.raises(BlockedURL):
        check_url(url, allow_private=False)


@pytest.mark.parametrize("url", ["http://0x7f000001/feed", "http://127.1/feed", "http://2130706433/feed"])
async def test_names_resolving_to_loopback_are_refused_at_connect(url: str) -> None:
    async with Fetcher(allow_private=False, timeout_s=2) as f:
        with pytest.raises(BlockedURL):
            await f.fetch(url)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
async def test_resolver_refuses_names_that_resolve_to_loopback(host: str) -> None:
    resolver = GuardedResolver()
    try:
        with pytest.raises(BlockedURL, match="not a public address"):
            await resolver.resolve(host, 80)
    finally:
        await resolver.close()


@pytest.mark.parametrize("target", ["http://169.254.169.254/latest/meta-data", "http://localhost/feed", "http://10.0.0.1/x"])
async def test_public_url_redirecting_to_private_target_is_refused(
    server: FeedServer, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    # The test server stands in for a public host: only its address is treated as public here.
    real = is_public_address
    monkeypatch.setattr("bot.sources.fetcher.is_public_address", lambda a: a == "127.0.0.1" or real(a))
    url = server.set("/hop", status=302, redirect=target)
    async with Fetcher(allow_private=False) as f:
        with pytest.raises(BlockedURL):
            await f.fetch(url)
    assert server.hits["/hop"] == 1


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("::1", False),
        ("fe80::1", False),
        ("224.0.0.1", False),
        ("::ffff:127.0.0.1", False),
        ("2a00:1450::1", True),
    ],
)
def test_is_public_address(address: str, public: bool) -> None:
    assert is_public_address(address) is public


@pytest.mark.parametrize(("value", "seconds"), [("30", 30.0), (None, None), ("soon", None)])
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value) == seconds


def test_parse_retry_after_http_date() -> None:
    assert parse_retry_after("Mon, 21 Oct 2024 10:01:00 GMT", now=1729504800.0) == 60.0
