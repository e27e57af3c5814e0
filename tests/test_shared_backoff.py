"""A failing feed's back-off belongs to the running bot: a `once` beside it does not push it; a `once`
alone (or after the bot died) keeps the feed's health as before."""

from __future__ import annotations

import signal
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from storage.schedule_owner import ScheduleLock, schedule_held_elsewhere
from tests.feedserver import FeedServer
from tests.test_cli import run_cli, start_run, with_interval, write_config


def feed_row(db: Path) -> tuple[int, str | None, datetime | None, datetime | None]:
    """error_count, last_error, last_polled_at, next_poll_at of the only feed (zeros before it exists)."""
    try:
        conn = sqlite3.connect(db)
        row = conn.execute("SELECT error_count, last_error, last_polled_at, next_poll_at FROM feeds").fetchone()
        conn.close()
    except sqlite3.OperationalError:
        row = None
    if row is None:
        return 0, None, None, None
    count, error, polled, nxt = row
    return int(count), error, datetime.fromisoformat(polled) if polled else None, datetime.fromisoformat(nxt) if nxt else None


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_once_beside_a_running_bot_leaves_its_back_off_alone(server: FeedServer, tmp_path: Path) -> None:
    url = server.set("/down", status=500)
    cfg = with_interval(write_config(tmp_path / "feeds.yaml", [("Down", url)]), "4s")
    db = tmp_path / "nw.db"
    bot = start_run(cfg, db)
    try:
        wait_for(lambda: feed_row(db)[0] == 1)  # the bot's first failure: its next poll in 8 s (±10%)
        first_polled = feed_row(db)[2]
        assert first_polled is not None
        while datetime.now(UTC) < first_polled + timedelta(seconds=1):  # stored to the second: once polls in a later one
            time.sleep(0.02)
        once = run_cli("once", "--config", str(cfg), "--db", str(db))  # fails too, before the bot's next poll
        assert "Down: fetcher: HTTP 500" in once.stderr and server.hits["/down"] == 2
        count, error, polled, _ = feed_row(db)
        assert count == 1  # not counted: the back-off is the bot's
        assert (
            error is not None
            and error.startswith("fetcher: HTTP 500")
            and polled is not None
            and first_polled is not None
            and polled > first_polled
        )
        wait_for(lambda: feed_row(db)[0] == 2)  # the bot's second failure
        count, _, polled, nxt = feed_row(db)
    finally:
        bot.send_signal(signal.SIGKILL)  # the kernel drops the bot's lock with it
        bot.communicate(timeout=20)
    assert server.hits["/down"] == 3
    assert polled is not None and nxt is not None
    assert 13 <= (nxt - polled).total_seconds() <= 19  # 4 s doubled twice, ±10%, stored to the second (counting once: 32 s)
    # the bot is gone: a `once` now owns the schedule again and counts its failure
    assert not schedule_held_elsewhere(db)
    once = run_cli("once", "--config", str(cfg), "--db", str(db))
    assert "Down: fetcher: HTTP 500" in once.stderr
    assert feed_row(db)[0] == 3


def test_once_alone_counts_every_failure(server: FeedServer, tmp_path: Path) -> None:
    url = server.set("/down", status=500)
    cfg = write_config(tmp_path / "feeds.yaml", [("Down", url)])
    db = tmp_path / "nw.db"
    for n in (1, 2):
        once = run_cli("once", "--config", str(cfg), "--db", str(db))
        assert "Down: fetcher: HTTP 500" in once.stderr
        count, error, polled, nxt = feed_row(db)
        assert count == n and error is not None and error.startswith("fetcher: HTTP 500")
        assert polled is not None and nxt is not None and nxt > polled  # the next poll is set, backed off


def test_the_schedule_lock_is_held_by_one_bot(tmp_path: Path) -> None:
    db = tmp_path / "nw.db"
    assert not schedule_held_elsewhere(db)  # no bot ever ran here
    first, second = ScheduleLock(db), ScheduleLock(db)
    assert first.acquire()
    assert schedule_held_elsewhere(db)
    assert not second.acquire()
    first.release()
    assert not schedule_held_elsewhere(db)
    assert second.acquire()
    second.release()
