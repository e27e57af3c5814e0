"""Parse speed of t.me/s channel preview pages, in posts per second.

    python bench/tchannel_bench.py
Uses the saved pages of ../shared/corpus/tchannel when present, else a page made here.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.sources.tchannel import parse_channel_page  # noqa: E402


def made_page(posts: int = 20) -> bytes:
    msgs = "".join(
        f'<div class="tgme_widget_message js-widget_message" data-post="bench/{n}"><div class="tgme_widget_message_text js-message_text">'
        f'Post {n}: Песков заявил журналистам<br/>{"text " * 80}<a href="https://example.org/{n}">link</a></div>'
        f'<span class="tgme_widget_message_views">1.2K</span><a class="tgme_widget_message_date" href="https://t.me/bench/{n}">'
        f'<time datetime="2024-10-21T10:00:00+00:00"></time></a></div>'
        for n in range(posts)
    )
    return f'<html><body><section class="tgme_channel_history">{msgs}</section></body></html>'.encode()


def main() -> None:
    corpus = ROOT.parent / "shared" / "corpus" / "tchannel"
    pages = [(p.name, p.read_bytes()) for p in sorted(corpus.glob("*tme_s_*.html"))] if corpus.exists() else []
    pages = pages or [("made page", made_page())]
    total_posts, total_time = 0, 0.0
    for name, body in pages:
        rounds = 20
        t0 = time.perf_counter()
        for _ in range(rounds):
            posts = len(parse_channel_page(body, "https://t.me/s/bench").items)
        dt = (time.perf_counter() - t0) / rounds
        total_posts += posts
        total_time += dt
        print(f"{name:<48} {len(body) / 1024:7.0f} KB  {posts:3d} posts  {dt * 1000:6.2f} ms/page  {posts / dt:8.0f} posts/s")
    print(f"{'all pages':<48} {total_posts:3d} posts  {total_posts / total_time:8.0f} posts/s")


if __name__ == "__main__":
    main()
