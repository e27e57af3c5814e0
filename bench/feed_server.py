"""Benchmark feed server: N RSS feeds of 50 items (~500 characters each) with ETag/304.

    python bench/feed_server.py --port 8099 --feeds 1000
POST /bump?fraction=0.1 adds one item to that fraction of the feeds (their ETag changes).
"""

from __future__ import annotations

import argparse
import hashlib

from aiohttp import web

LOREM = (
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore "
    "et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut "
)


def make_feed(n: int, extra: int) -> bytes:
    items = []
    for i in range(extra, 50 + extra):
        topic = "Kremlin spokesman Dmitry Peskov said" if i % 25 == 0 else "Local council meets on budget"
        items.append(
            f"<item><title>{topic}: feed {n} item {i}</title><link>https://news{n % 50}.example/{n}/{i}</link>"
            f"<guid>feed{n}-item{i}</guid><pubDate>Mon, 21 Oct 2024 10:00:00 GMT</pubDate>"
            f"<description>{LOREM * 2}{n} {i}</description></item>"
        )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Feed {n}</title>'
        f"<link>https://news.example/{n}</link>{''.join(reversed(items))}</channel></rss>"
    ).encode()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--feeds", type=int, default=1000)
    args = ap.parse_args()
    extra = [0] * args.feeds
    bodies = [make_feed(n, 0) for n in range(args.feeds)]
    etags = [f'"{hashlib.sha1(b).hexdigest()[:16]}"' for b in bodies]

    async def feed(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        if request.headers.get("If-None-Match") == etags[n]:
            return web.Response(status=304, headers={"ETag": etags[n]})
        return web.Response(body=bodies[n], headers={"ETag": etags[n], "Content-Type": "application/rss+xml"})

    async def bump(request: web.Request) -> web.Response:
        step = max(1, round(1 / float(request.query.get("fraction", "0.1"))))
        for n in range(0, args.feeds, step):
            extra[n] += 1
            bodies[n] = make_feed(n, extra[n])
            etags[n] = f'"{hashlib.sha1(bodies[n]).hexdigest()[:16]}"'
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/feed/{n}.xml", feed)
    app.router.add_post("/bump", bump)
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=lambda *a: None)


if __name__ == "__main__":
    main()
