"""A failing feed's back-off belongs to the process that schedules it: an early poll by another does not push it."""

from __future__ import annotations

import signal
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils

from bot.models import FeedConfig
from storage.feeds import get_feed_state, record_error, sync_feeds
from tests.feedserver import FeedServer
from tests.test_cli import run_cli, start_run, with_interval, write_config

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("stored_next", "expected_count", "expected_next"),
    [
        (None, 2, T0 + timedelta(seconds=99)),  # nothing scheduled: counts, sets the next poll
        (T0 - timedelta(seconds=1), 2, T0 + timedelta(seconds=99)),  # due: counts
        (T0, 2, T0 + timedelta(seconds=99)),  # due this second: counts
        (T0 + timedelta(seconds=30), 1, T0 + timedelta(seconds=30)),  # early: shown, not counted, schedule kept
    ],
    ids=["unscheduled", "overdue", "due", "early"],
)
def test_only_a_due_poll_advances_the_back_off(
    fresh_db: sqlite_utils.Database, stored_next: datetime | None, expected_count: int, expected_next: datetime
) -> None:
    url = "https://f.example/"
    fid = sync_feeds(fresh_db, [FeedConfig(name="F", kind="rss", source=url, url=url, interval_s=60)])[url]
    earlier = T0 - timedelta(minutes=5)
    fresh_db.execute(
        "UPDATE feeds SET error_count = 1, failing_since = ?, next_poll_at = ? WHERE id = ?",
        [earlier.isoformat(), stored_next.isoformat() if stored_next else None, fid],
    )
    count, since = record_error(fresh_db, fid, "fetcher: HTTP 500", 500, T0, T0 + timedelta(seconds=99))
    state = get_feed_state(fresh_db, fid)
    assert (count, since) == (expected_count, earlier)
    assert state.error_count == expected_count and state.next_poll_at == expected_next
    assert state.last_error == "fetcher: HTTP 500" and state.last_polled_at == T0  # shown either way


def feed_row(db: Path) -> tuple[int, datetime, datetime]:
    """error_count, last_polled_at, next_poll_at of the only feed."""
    conn = sqlite3.connect(db)
    count, polled, nxt = conn.execute("SELECT error_count, last_polled_at, next_poll_at FROM feeds").fetchone()
    conn.close()
    return int(count), datetime.fromisoformat(polled), datetime.fromisoformat(nxt)


def error_count(db: Path) -> int:
    """The only feed's error_count (0 before the database or the feed exists)."""
    try:
        conn = sqlite3.connect(db)
        row = conn.execute("SELECT error_count FROM feeds").fetchone()
        conn.close()
    except sqlite3.OperationalError:
        return 0
    return int(row[0]) if row else 0


def wait_for(condition: object, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.05)


def test_once_beside_a_running_bot_leaves_its_back_off_alone(server: FeedServer, tmp_path: Path) -> None:
    url = server.set("/down", status=500)
    cfg = with_interval(write_config(tmp_path / "feeds.yaml", [("Down", url)]), "2s")
    db = tmp_path / "nw.db"
    bot = start_run(cfg, db)
    try:
        wait_for(lambda: server.hits["/down"] >= 1 and error_count(db) == 1)  # the bot's first failure: wait 4 s
        once = run_cli("once", "--config", str(cfg), "--db", str(db))  # fails too, before the bot's next poll
        assert "Down: fetcher: HTTP 500" in once.stderr and server.hits["/down"] == 2
        assert error_count(db) == 1
        wait_for(lambda: error_count(db) == 2)  # the bot's second failure
        count, polled, nxt = feed_row(db)
    finally:
        bot.send_signal(signal.SIGTERM)
        bot.communicate(timeout=20)
    assert count == 2
    assert 7 <= (nxt - polled).total_seconds() <= 9  # 2 s doubled twice, ±10% jitter (counting once's: 16 s)
