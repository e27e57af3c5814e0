"""A real HTTP server on 127.0.0.1 for the tests: routes set per test, every request counted."""

from __future__ import annotations

import asyncio
import gzip
import threading
from collections import Counter
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class Route:
    """How the server answers one path."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    gzip: bool = False
    delay: float = 0.0
    redirect: str | None = None
    stream_bytes: int = 0  # send this many bytes of filler instead of body
    gate: threading.Event | None = None  # block until set


class FeedServer:
    """Serves `routes` on a free port of 127.0.0.1 from a thread of its own."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.in_flight = 0  # requests being answered that arrived since the last reset
        self.most_in_flight = 0  # the most of those answered at one time
        self._epoch = 0  # reset() count: an answer still running from before (a client gave up) is not counted
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def url(self, path: str) -> str:
        """Absolute URL of a path on this server."""
        return f"http://127.0.0.1:{self.port}{path}"

    def set(self, path: str, **kw: object) -> str:
        """Define (or replace) the answer for `path`; return its URL."""
        self.routes[path] = Route(**kw)  # type: ignore[arg-type]
        return self.url(path)

    def reset(self) -> None:
        """Forget routes and counters."""
        self.routes.clear()
        self.hits.clear()
        self.requests.clear()
        self.most_in_flight = self.in_flight = 0
        self._epoch += 1

    def start(self) -> FeedServer:
        """Start serving; return self."""
        self._thread.start()
        self._started.wait(10)
        return self

    def stop(self) -> None:
        """Stop the server thread."""
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._started.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())
        self._loop.close()  # here, in its own thread: left to the garbage collector it fails at exit

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        epoch = self._epoch
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            return await self._answer(request)
        finally:
            if epoch == self._epoch:
                self.in_flight -= 1

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        key = request.path_qs if request.path_qs in self.routes else request.path
        self.hits[key] += 1
        self.requests.append((key, dict(request.headers)))
        route = self.routes.get(key)
        if route is None:
            return web.Response(status=404, text="not found")
        if route.gate is not None:
            while not route.gate.is_set():
                await asyncio.sleep(0.02)
        if route.delay:
            await asyncio.sleep(route.delay)
        if route.redirect:
            return web.Response(status=route.status, headers={"Location": route.redirect})
        headers = dict(route.headers)
        if route.etag:
            headers["ETag"] = route.etag
            if request.headers.get("If-None-Match") == route.etag:
                return web.Response(status=304, headers=headers)
        if route.last_modified:
            headers["Last-Modified"] = route.last_modified
            if request.headers.get("If-Modified-Since") == route.last_modified:
                return web.Response(status=304, headers=headers)
        if route.stream_bytes:
            return await self._stream(request, route, headers)
        body = route.body
        if route.gzip:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        return web.Response(status=route.status, body=body, headers=headers)

    async def _stream(self, request: web.Request, route: Route, headers: dict[str, str]) -> web.StreamResponse:
        resp = web.StreamResponse(status=route.status, headers=headers)
        await resp.prepare(request)
        chunk = b"<!-- filler -->" * 4096
        sent = 0
        try:
            while sent < route.stream_bytes:
                await resp.write(chunk)
                sent += len(chunk)
        except (ConnectionResetError, RuntimeError):
            return resp
        await resp.write_eof()
        return resp


def rss(items: list[dict[str, str]], title: str = "Test feed", link: str = "https://example.org/") -> bytes:
    """A small RSS 2.0 document; each item dict may hold title, link, guid, description, pubDate."""
    parts = []
    for it in items:
        fields = "".join(f"<{k}>{v}</{k}>" for k, v in it.items())
        parts.append(f"<item>{fields}</item>")
    doc = f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title><link>{link}</link>{"".join(parts)}</channel></rss>'
    return doc.encode("utf-8")
