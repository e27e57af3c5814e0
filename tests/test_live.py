"""LiveConfig and its watcher on their own: a real runtime, a real file, faults injected into storage."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import replace
from typing import Any

import pytest

from bot.config import Settings, load_config
from bot.live import LiveConfig
from bot.pipeline import poll_feed
from bot.runtime import open_runtime
from bot.subscribers import Catalog
from storage import feeds as storage_feeds
from tests.adminbot import config_text
from tests.feedserver import FeedServer
from tests.test_telegram import until


async def test_the_watcher_survives_a_failed_reload(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    path = settings.config_path
    path.write_text(config_text(("A", "https://a.example/rss")), encoding="utf-8")
    notices: list[str] = []

    async def notify(text: str) -> None:
        notices.append(text)

    calls = {"n": 0}
    real = storage_feeds.sync_feeds

    def flaky_sync(db: Any, feeds: Any) -> dict[str, int]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise sqlite3.OperationalError("database is locked")
        return real(db, feeds)

    async with open_runtime(settings, load_config(path)) as rt:
        live = LiveConfig(rt, Catalog(rt.config.topics), notify, console=True)
        monkeypatch.setattr("bot.live.sync_feeds", flaky_sync)
        stop = asyncio.Event()
        watcher = asyncio.create_task(live.watch(stop, every_s=0.1))
        path.write_text(config_text(("A", "https://a.example/rss"), ("B", "https://b.example/rss")), encoding="utf-8")
        await until(lambda: len(notices) == 1)
        assert notices[0] == "Applying feeds.yaml failed unexpectedly; see the log. The watcher goes on."
        assert [f.name for f in live.config.feeds] == ["A"]
        three = config_text(("A", "https://a.example/rss"), ("B", "https://b.example/rss"), ("C", "https://c.example/rss"))
        path.write_text(three, encoding="utf-8")
        await until(lambda: [f.name for f in live.config.feeds] == ["A", "B", "C"])
        assert live.catalog.names == {"rutte": "Mark Rutte", "peskov": "peskov"}
        applied = calls["n"]
        path.write_text(three, encoding="utf-8")  # same content, new mtime: nothing to apply
        await asyncio.sleep(0.5)
        assert calls["n"] == applied
        path.unlink()
        await until(lambda: len(notices) == 2)
        assert notices[1].startswith("<b>feeds.yaml was not applied</b>: config: cannot read ")
        assert [f.name for f in live.config.feeds] == ["A", "B", "C"]
        assert rt.ctx.max_age_s == 2 * 86400
        path.write_text(
            config_text(("A", "https://a.example/rss")).replace("  timezone: UTC", "  max_age: off"), encoding="utf-8"
        )
        await until(lambda: len(notices) == 3)
        assert rt.ctx.max_age_s is None
        assert notices[2] == "feeds.yaml is valid again and now applied."
        assert [f.name for f in live.config.feeds] == ["A"]
        stop.set()
        await watcher


async def test_waiting_health_notices_are_sent_at_shutdown(settings: Settings, server: FeedServer) -> None:
    url = server.set("/down.xml", status=503)
    settings = replace(settings, notice_delay_s=60.0)
    settings.config_path.write_text(config_text(("Down", url)), encoding="utf-8")
    notices: list[str] = []

    async def notify(text: str) -> None:
        notices.append(text)

    async with open_runtime(settings, load_config(settings.config_path)) as rt:
        live = LiveConfig(rt, Catalog(rt.config.topics), notify, console=True)
        feed = rt.config.feeds[0]
        for _ in range(3):
            await live.after_poll(await poll_feed(rt.ctx, feed, rt.feed_ids[feed.source]))
        await asyncio.sleep(0.1)
        assert notices == []  # waiting for others
        await live.close()
    assert len(notices) == 1 and notices[0].startswith("Feed <b>Down</b> (#1) is failing: 3 polls in a row since ")
