"""Real processes on one database and one parse pool: start-up races, SIGKILL, Ctrl-C."""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.models import Topic
from bot.sources.parsing import ParserPool
from storage.db import MIGRATIONS
from tests.conftest import ROOT
from tests.feedserver import FeedServer, rss
from tests.procs import bot_env, session_processes, start_once
from tests.test_cli import with_interval, write_config

OPEN_AT = """
import sys, time
from storage.db import open_database
start = float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))
open_database(sys.argv[1]).close()
"""


def test_processes_starting_together_on_a_fresh_database_all_migrate_it(tmp_path: Path) -> None:
    for round_ in range(2):
        db = tmp_path / f"fresh{round_}.db"
        start = time.time() + 1.5  # every process has imported storage.db by then; they open it together
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", OPEN_AT, str(db), str(start)],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(6)
        ]
        results = [(p.wait(30), p.stderr.read() if p.stderr else "") for p in procs]
        assert [rc for rc, _ in results] == [0] * 6, [err for _, err in results if err]
        conn = sqlite3.connect(db)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        conn.close()


def start_bot_with_pool(server: FeedServer, tmp_path: Path) -> subprocess.Popen[str]:
    """`python -m bot run` with two parse workers, in a session of its own, once a feed was parsed."""
    url = server.set("/pool", body=rss([{"title": "Peskov on talks", "guid": "1", "link": "https://p.example/1"}]))
    cfg = with_interval(write_config(tmp_path / "feeds.yaml", [("Pool", url)]))
    env = bot_env(NEWSWATCH_PARSE_WORKERS="2")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--config", str(cfg), "--db", str(tmp_path / "nw.db")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    if not select.select([proc.stdout], [], [], 30)[0]:  # no alert: stop it, whatever it started, and say why
        for pid in session_processes(proc.pid):
            os.kill(pid, signal.SIGKILL)
        pytest.fail(f"no alert within 30 s: {proc.communicate(timeout=10)[1]}")
    line = proc.stdout.readline()  # the console alert: the body went through a worker
    assert "peskov" in line
    deadline = time.monotonic() + 10
    while not workers_of(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return proc


def workers_of(sid: int) -> list[int]:
    """The parse workers of a session (spawned: started on demand, the first with the first body)."""
    return [pid for pid, cmd in session_processes(sid).items() if "multiprocessing.spawn" in cmd]


def test_sigkill_of_the_bot_takes_its_parse_workers_down(server: FeedServer, tmp_path: Path) -> None:
    proc = start_bot_with_pool(server, tmp_path)
    pool = session_processes(proc.pid)
    assert workers_of(proc.pid) and len(pool) >= 3, pool  # the bot, a worker and the resource tracker
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(5)
    killed_at = time.monotonic()
    while session_processes(proc.pid) and time.monotonic() - killed_at < 10:
        time.sleep(0.05)
    left = session_processes(proc.pid)
    gone_after = time.monotonic() - killed_at
    for pid in left:  # leave nothing behind, whatever the outcome
        os.kill(pid, signal.SIGKILL)
    assert not left, f"still running {gone_after:.1f} s after SIGKILL: {left}"
    assert gone_after < 2.0


def test_ctrl_c_stops_the_bot_and_its_workers_without_a_traceback(server: FeedServer, tmp_path: Path) -> None:
    proc = start_bot_with_pool(server, tmp_path)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal does on Ctrl-C: the whole foreground group
    _, err = proc.communicate(timeout=20)
    assert "Traceback" not in err, err
    assert "KeyboardInterrupt" not in err, err
    assert proc.returncode == 0
    deadline = time.monotonic() + 5
    while session_processes(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert session_processes(proc.pid) == {}


def test_two_once_started_after_a_crash_print_each_pending_hit_once(server: FeedServer, tmp_path: Path) -> None:
    words = [" ".join(f"w{i}x{j}" for j in range(15)) for i in range(600)]  # long, and no two alike
    items = [{"title": f"Peskov {w}", "guid": f"g{i}", "link": f"https://c.example/{i}"} for i, w in enumerate(words)]
    url = server.set("/many", body=rss(items), etag='"v1"')
    cfg = write_config(tmp_path / "feeds.yaml", [("Many", url)])
    db = tmp_path / "nw.db"
    first = start_once(cfg, db, tmp_path / "first.err")
    assert first.communicate(timeout=60)[0].count("\n") == 600
    sql = sqlite3.connect(db)
    sql.execute("UPDATE hits SET reported_at = NULL")  # stored, never reported: what a crash leaves
    sql.commit()
    sql.close()
    a = start_once(cfg, db, tmp_path / "a.err")
    assert a.stdout is not None
    a_first = a.stdout.readline()  # A is printing the pending hits and is now stuck on a full pipe
    b = start_once(cfg, db, tmp_path / "b.err")
    deadline = time.monotonic() + 3
    while b.poll() is None and time.monotonic() < deadline:  # B either finishes, or waits for A's claim
        time.sleep(0.05)
    a_rest = a.stdout.read()  # the rest of A's output, after what its pipe buffer already held
    b_out = b.communicate(timeout=60)[0]
    a.wait(60)
    assert a.returncode == 0 and b.returncode == 0, (tmp_path / "a.err").read_text() + (tmp_path / "b.err").read_text()
    printed = [json.loads(line)["title"] for line in (a_first + a_rest + b_out).splitlines()]
    assert len(printed) == 600 and sorted(printed) == sorted(it["title"] for it in items)


async def test_a_thread_first_pool_parses_in_its_owner_until_the_backlog_outlasts_a_worker_start() -> None:
    body = rss([{"title": "Peskov spoke", "link": "https://n.example/1", "guid": "1"}])
    topics = (Topic("peskov", "Peskov", "peskov"),)

    async def parse_together(pool: ParserPool, n: int) -> list[list[str]]:
        done = await asyncio.gather(*(pool.parse("rss", body, {}, "http://127.0.0.1/f") for _ in range(n)))
        return [[m.topic for m in next(iter(parsed.matches.values()))] for parsed in done]

    async with ParserPool(2, topics) as pool:  # as `run` builds it: the workers start with the first body
        assert await parse_together(pool, 1) == [["peskov"]]
        assert pool._executor is not None
    async with ParserPool(2, topics) as pool:  # as `once` sets it after reading feeds before
        pool.thread_first = True
        assert await parse_together(pool, 100) == [["peskov"]] * 100
        assert pool._executor is None  # a hundred small bodies take less than a worker start: no worker
        assert 0 < pool.thread_backlog_s(len(body)) < pool.worker_start_s  # it measured its own speed
        pool.worker_start_s = pool.thread_backlog_s(3 * len(body))  # as if a worker started in 3 bodies' time
        assert await parse_together(pool, 6) == [["peskov"]] * 6
        assert pool._executor is not None  # the bodies past the backlog went to the workers


async def test_a_pool_parsing_in_a_thread_keeps_its_topics_beside_the_pool_that_replaces_it() -> None:
    """A hot reload builds a pool for the new topics while the old one may still parse: in the owner's
    threads, each matches with its own pool's topics."""
    body = rss([{"title": "Peskov met Rutte", "link": "https://n.example/1", "guid": "1"}])
    old, new = ParserPool(1, (Topic("peskov", "Peskov", "peskov"),)), ParserPool(1, (Topic("rutte", "Rutte", "rutte"),))
    async with old, new:
        for pool, topic in [(old, "peskov"), (new, "rutte"), (old, "peskov")]:
            parsed = await pool.parse("rss", body, {}, "http://127.0.0.1/f")
            assert [[m.topic for m in found] for found in parsed.matches.values()] == [[topic]]


async def test_parse_workers_start_with_ctrl_c_blocked_and_ignore_it() -> None:
    """A Ctrl-C to the process group while a worker's interpreter starts must not reach it: the worker
    is started with SIGINT blocked, and keeps it blocked and ignored."""
    async with ParserPool(2, (Topic("peskov", "Peskov", "peskov"),)) as pool:
        loop = asyncio.get_running_loop()
        blocked = await loop.run_in_executor(pool._get_executor(), signal.pthread_sigmask, signal.SIG_BLOCK, [])
        ignored = await loop.run_in_executor(pool._get_executor(), signal.getsignal, signal.SIGINT)
    assert signal.SIGINT in blocked and ignored == signal.SIG_IGN
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])  # the owner's mask is as it was
