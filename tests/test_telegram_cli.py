"""`python -m bot run` with a token, as a separate process, against the Bot API emulator."""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path

from storage.db import open_database, utcnow
from storage.outbox import outbox_counts
from storage.subscribers import start_subscriber, subscribe
from tests.botapi import BotAPI
from tests.feedserver import FeedServer, rss
from tests.procs import start_bot, stop_bot
from tests.test_cli import write_config


def fast_config(tmp_path: Path, url: str) -> Path:
    cfg = write_config(tmp_path / "feeds.yaml", [("Wire", url)])
    cfg.write_text(cfg.read_text().replace(f"    url: {url}", f"    url: {url}\n    interval: 1s"), encoding="utf-8")
    return cfg


def test_user_subscribes_and_gets_exactly_one_alert(server: FeedServer, botapi: BotAPI, tmp_path: Path) -> None:
    url = server.set("/wire.xml", body=rss([]))
    proc = start_bot(fast_config(tmp_path, url), tmp_path / "nw.db", botapi)
    try:
        assert botapi.wait_for(lambda: botapi.state.commands, 30), "setMyCommands never called"
        botapi.user_sends(31, "/start")
        assert botapi.wait_for(lambda: len(botapi.messages(31)) == 1)
        botapi.user_sends(31, "/subscribe rutte")
        assert botapi.wait_for(lambda: len(botapi.messages(31)) == 2)
        assert "Now following: rutte" in botapi.messages(31)[1].text
        polls = server.hits["/wire.xml"]
        server.set("/wire.xml", body=rss([{"title": "Rutte arrives in Kyiv", "link": "https://n.example/r1", "guid": "r1"}]))
        assert botapi.wait_for(lambda: len(botapi.messages(31)) == 3)
        assert botapi.wait_for(lambda: server.hits["/wire.xml"] >= polls + 4)  # several more polls of the same item
    finally:
        err = stop_bot(proc)
    alerts = botapi.messages(31)[2:]
    assert len(alerts) == 1, err
    assert alerts[0].text.startswith('🔔 <b>rutte</b>\n<b><a href="https://n.example/r1">Rutte arrives in Kyiv</a></b>\nWire · ')


def test_sigkill_mid_drain_loses_nothing_and_sends_nothing_twice(server: FeedServer, botapi: BotAPI, tmp_path: Path) -> None:
    db_path = tmp_path / "nw.db"
    chats = list(range(5000, 5060))
    db = open_database(db_path)
    for chat in chats:
        start_subscriber(db, chat, None, "private", None, utcnow())
        subscribe(db, chat, ["rutte"])
    db.close()
    url = server.set("/wire.xml", body=rss([{"title": "Rutte in Brussels", "link": "https://n.example/b", "guid": "b"}]))
    cfg = fast_config(tmp_path, url)
    botapi.state.hold_after = 20  # the 21st message and later hang until the process is killed
    proc = start_bot(cfg, db_path, botapi)
    try:
        assert botapi.wait_for(lambda: len(botapi.messages()) >= 20, 30)
        time.sleep(0.5)  # the accepted ones are recorded as sent
    finally:
        proc.kill()
        proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    botapi.release()
    assert len(botapi.messages()) == 20
    proc = start_bot(cfg, db_path, botapi)
    try:
        assert botapi.wait_for(lambda: len({m.chat_id for m in botapi.messages()}) == 60, 30)
        time.sleep(1.0)
    finally:
        stop_bot(proc)
    assert Counter(m.chat_id for m in botapi.messages()) == Counter({c: 1 for c in chats})
    db = open_database(db_path)
    assert outbox_counts(db) == {"sent": 60}
    db.close()
