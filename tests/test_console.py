"""The operator's console: global options, `run`'s start line and summaries, `once` in a terminal, wording."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pyte
import pytest
import wcwidth

from bot.wording import count, duration_words
from tests.botapi import BotAPI
from tests.conftest import ROOT
from tests.feedserver import FeedServer, rss
from tests.procs import Lines, start_bot, stop_bot
from tests.test_cli import run_cli, with_interval, write_config


def start_run(cfg: Path, db: Path, **env_extra: str) -> tuple[subprocess.Popen[str], Lines, Lines]:
    """`python -m bot run` without a token; its stdout and stderr collected."""
    env = {**os.environ, "NEWSWATCH_ALLOW_PRIVATE_URLS": "1", "NEWSWATCH_PARSE_WORKERS": "1", **env_extra}
    env.pop("TELEGRAM_BOT_TOKEN", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--config", str(cfg), "--db", str(db)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return proc, Lines(proc.stdout), Lines(proc.stderr)


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(20)
    assert proc.returncode == 0


def rfc822(days_ago: float) -> str:
    return format_datetime(datetime.now(UTC) - timedelta(days=days_ago), usegmt=True)


SUMMARY = re.compile(
    r"last 1 second: (\d+) feeds? polled, (\d+) new items?, (\d+) hits?(?: \((\d+) kept, not sent: max_age\))?, "
    r"(\d+) messages? sent, (no feed failing|\d+ feeds? failing: .*)$",
    re.M,
)


def test_run_says_where_alerts_go_and_logs_a_summary_every_interval(server: FeedServer, tmp_path: Path) -> None:
    good = server.url("/good.xml")
    broken = server.set("/broken.xml", status=500)
    cfg = with_interval(write_config(tmp_path / "feeds.yaml", [("Good", good), ("Broken", broken)]))
    cfg.write_text("settings:\n  timezone: Europe/Paris\n" + cfg.read_text(encoding="utf-8"), encoding="utf-8")
    published = datetime.now(UTC) - timedelta(days=0.1)
    good = server.set(
        "/good.xml",
        body=rss(
            [
                {
                    "title": "Peskov on talks",
                    "guid": "1",
                    "link": "https://l.example/1",
                    "pubDate": format_datetime(published, True),
                },
                {"title": "Weather", "guid": "2", "link": "https://l.example/2", "pubDate": rfc822(0.1)},
            ]
        ),
    )
    proc, out, err = start_run(cfg, tmp_path / "nw.db", NEWSWATCH_SUMMARY_INTERVAL="1")
    try:
        err.wait_for(lambda t: len(SUMMARY.findall(t)) >= 3 and "Peskov on talks" in out.text)
        time.sleep(1.2)  # one more summary after the alert was sent
    finally:
        stop(proc)
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+0[12]:00 INFO bot.app: running: 2 feeds, 2 topics", err.text, re.M)
    paris, utc = published.astimezone(ZoneInfo("Europe/Paris")), published
    assert f"{paris:%H:%M}" in out.text and f"{utc:%H:%M}" not in out.text  # the alert's time, in the config's zone
    assert "alerts go to the console (TELEGRAM_BOT_TOKEN is not set)" in err.text
    lines = SUMMARY.findall(err.text)
    assert sum(int(x[1]) for x in lines) == 2  # new items, each counted in one line only
    assert sum(int(x[2]) for x in lines) == 1  # hits
    assert sum(int(x[4]) for x in lines) == 1  # the alert sent
    assert all(x[3] == "" for x in lines)  # nothing held back
    assert max(int(x[0]) for x in lines) == 2
    assert lines[-1][5] == "1 feed failing: Broken"
    summary_lines = [line for line in err.text.splitlines() if "last 1 second:" in line]
    assert all(" INFO bot.console: " in line for line in summary_lines)


def test_run_says_when_max_age_keeps_hits_back(server: FeedServer, tmp_path: Path) -> None:
    url = server.set(
        "/backlog.xml",
        body=rss(
            [
                {"title": "Peskov in 2020", "guid": "1", "link": "https://o.example/1", "pubDate": rfc822(900)},
                {"title": "Rutte in 2021", "guid": "2", "link": "https://o.example/2", "pubDate": rfc822(600)},
                {"title": "Peskov today", "guid": "3", "link": "https://o.example/3", "pubDate": rfc822(0.1)},
            ]
        ),
    )
    cfg = with_interval(write_config(tmp_path / "feeds.yaml", [("Archive", url)]))
    proc, out, err = start_run(cfg, tmp_path / "nw.db", NEWSWATCH_SUMMARY_INTERVAL="1")
    try:
        err.wait_for(lambda t: any(x[3] for x in SUMMARY.findall(t)) and server.hits["/backlog.xml"] >= 3)
        out.wait_for(lambda t: "Peskov today" in t)
    finally:
        stop(proc)
    notice = (
        "feed=Archive: 2 hits kept but not sent: their items were published more than 2 days before the feed "
        "was first read (settings.max_age)"
    )
    assert err.text.count(notice) == 1  # once for that poll; later polls bring nothing new
    assert "Peskov in 2020" not in out.text and "Rutte in 2021" not in out.text
    assert [x[2:4] for x in SUMMARY.findall(err.text) if x[3]] == [("3", "2")]


@pytest.mark.parametrize(
    "args",
    [
        ["--config", "{cfg}", "--db", "{db}", "-v", "once", "--json"],
        ["once", "--config", "{cfg}", "--db", "{db}", "-v", "--json"],
        ["--config", "{cfg}", "once", "--db", "{db}", "--json", "-v"],
    ],
    ids=["before", "after", "mixed"],
)
def test_global_options_work_before_or_after_the_command(server: FeedServer, tmp_path: Path, args: list[str]) -> None:
    url = server.set("/g.xml", body=rss([{"title": "Peskov speaks", "guid": "1", "link": "https://g.example/1"}]))
    cfg = write_config(tmp_path / "cfg.yaml", [("G", url)])
    db = tmp_path / "elsewhere.db"
    out = run_cli(*(a.format(cfg=cfg, db=db) for a in args))
    assert out.returncode == 0, out.stderr
    assert [json.loads(line)["title"] for line in out.stdout.splitlines()] == ["Peskov speaks"]
    assert db.exists()  # --db was honoured wherever it stood
    assert "DEBUG" in out.stderr  # so was -v


@pytest.mark.parametrize(
    "args",
    [
        ["--config", "{cfg}", "check"],
        ["check", "--config", "{cfg}"],
        ["--config", "{other}", "check", "--config", "{cfg}"],  # the one after the command wins
        ["--config", "{cfg}", "feeds", "list"],
        ["feeds", "--config", "{cfg}", "list"],
        ["feeds", "list", "--config", "{cfg}"],
    ],
)
def test_config_option_in_every_position(tmp_path: Path, args: list[str]) -> None:
    cfg = write_config(tmp_path / "cfg.yaml", [("One", "https://one.example/feed.xml")])
    out = run_cli(*(a.format(cfg=cfg, other=tmp_path / "missing.yaml") for a in args), "--db", str(tmp_path / "nw.db"))
    assert out.returncode == 0, out.stderr
    expected = "#1 One" if "feeds" in args else f"{cfg}: ok: 2 topics"
    assert expected in out.stdout


@pytest.mark.parametrize(
    ("n", "word", "expected"),
    [(0, "item", "0 items"), (1, "item", "1 item"), (2, "story", "2 stories"), (1, "story", "1 story"), (3, "day", "3 days")],
)
def test_count_says_one_thing_or_many(n: int, word: str, expected: str) -> None:
    assert count(n, word) == expected


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (1, "1 second"),
        (45, "45 seconds"),
        (60, "1 minute"),
        (90, "90 seconds"),
        (5400, "90 minutes"),
        (172800, "2 days"),
        (0.5, "0.5 seconds"),
    ],
)
def test_duration_words(seconds: float, expected: str) -> None:
    assert duration_words(seconds) == expected


def once_in_terminal(cfg: Path, db: Path, columns: int, rows: int = 50) -> tuple[list[str], bytes]:
    """Run `python -m bot once` with stdout and stderr on a pseudo-terminal of this size; return the
    screen as a terminal shows it (pyte) and the raw bytes written."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    env = {**os.environ, "NEWSWATCH_ALLOW_PRIVATE_URLS": "1", "NEWSWATCH_PARSE_WORKERS": "1", "TERM": "xterm"}
    for name in ("TELEGRAM_BOT_TOKEN", "COLUMNS", "LINES"):
        env.pop(name, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "once", "--config", str(cfg), "--db", str(db)],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        close_fds=True,
    )
    os.close(slave)
    raw = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the process closed the terminal
            break
        if not chunk:
            break
        raw += chunk
    os.close(master)
    assert proc.wait(30) == 0
    screen = pyte.Screen(columns, 400)  # tall enough that nothing scrolls away
    screen.set_mode(pyte.modes.LNM)  # the pty turns \n into \r\n; pyte's default would not
    pyte.ByteStream(screen).feed(raw)
    return [line.rstrip() for line in screen.display if line.strip()], raw


LONG_TITLE = "Peskov says the Kremlin has nothing to add on reports of troops " + "and more words " * 10 + "END"


def terminal_feeds(server: FeedServer, tmp_path: Path) -> Path:
    hits = server.set(
        "/hits.xml",
        body=rss(
            [
                {"title": LONG_TITLE, "guid": "1", "link": "https://h.example/1", "pubDate": "Mon, 21 Oct 2024 10:00:00 GMT"},
                {"title": "Рютте прибыл в Киев", "guid": "2", "link": "https://h.example/2"},
            ]
        ),
    )
    slow = server.set(
        "/slow.xml", body=rss([{"title": "뤼터 Rutte 북한군 파병", "guid": "k", "link": "https://k.example/1"}]), delay=0.5
    )
    broken = server.set("/broken.xml", status=500, delay=0.2)
    page = server.set("/page.html", body=b"<!doctype html><html><body><p>Hello</p></body></html>", delay=0.3)
    cfg = write_config(tmp_path / "feeds.yaml", [("Hits", hits), ("Broken", broken), ("Web page", page), ("Slow 한국", slow)])
    cfg.write_text("settings:\n  timezone: Europe/Paris\n" + cfg.read_text(encoding="utf-8"), encoding="utf-8")
    return cfg


def test_once_on_a_wide_terminal_clears_its_progress_line_and_uses_the_width(server: FeedServer, tmp_path: Path) -> None:
    screen, raw = once_in_terminal(terminal_feeds(server, tmp_path), tmp_path / "nw.db", columns=220)
    assert b"\rpolled 1/4 feeds" in raw  # the progress line was drawn while polling
    errors = [line for line in screen if line.startswith(("Broken:", "Web page:"))]
    assert [e.split(":")[0] for e in sorted(errors)] == ["Broken", "Web page"]  # each on a line of its own
    assert not [line for line in screen if "polled" in line and line != screen[-1]]  # cleared, never run into
    assert screen[-1] == "polled 4 feeds: 3 new hits, 2 failed"
    header = next(line for line in screen if line.startswith("TOPIC"))
    assert header.split() == ["TOPIC", "FEED", "DATE", "TITLE", "/", "URL", "(dates", "in", "Paris", "time)"]
    title_row = next(line for line in screen if "Peskov says" in line)
    assert title_row.startswith("peskov") and "Hits" in title_row and "21 Oct 2024 12:00" in title_row  # Paris, summer time
    assert 200 < len(title_row) <= 220 and title_row.endswith("…")  # cut to the terminal, not at 120
    assert title_row.index("Peskov says") == header.index("TITLE")
    assert next(line for line in screen if "https://h.example/1" in line).index("https") == header.index("TITLE")
    korean = next(line for line in screen if "북한군" in line)
    assert wcwidth.width(korean[: korean.index("뤼터")]) == header.index("TITLE") and "no date" in korean  # 한 takes 2 columns


def test_once_on_a_narrow_terminal_stacks_each_hit(server: FeedServer, tmp_path: Path) -> None:
    screen, _ = once_in_terminal(terminal_feeds(server, tmp_path), tmp_path / "nw.db", columns=50)
    assert "TOPIC · FEED · DATE (dates in Paris time)" in screen
    at = screen.index("peskov · Hits · 21 Oct 2024 12:00")
    assert screen[at + 1].startswith("  Peskov says the Kremlin") and screen[at + 1].endswith("…")
    assert len(screen[at + 1]) == 50 and screen[at + 2] == "  https://h.example/1"
    assert screen[-1] == "polled 4 feeds: 3 new hits, 2 failed"
    assert not [line for line in screen if "polled" in line and line != screen[-1]]


def test_once_to_a_pipe_prints_no_progress_and_cuts_nothing(server: FeedServer, tmp_path: Path) -> None:
    cfg = terminal_feeds(server, tmp_path)
    out = run_cli("once", "--config", str(cfg), "--db", str(tmp_path / "nw.db"), env_extra={"NEWSWATCH_PARSE_WORKERS": "2"})
    assert out.returncode == 0 and "polled" not in out.stderr
    assert LONG_TITLE in out.stdout and "21 Oct 2024 12:00" in out.stdout
    errors = sorted(out.stderr.splitlines())
    assert errors[0].startswith("Broken: fetcher: HTTP 500")
    assert errors[1] == "Web page: parser: not a feed (it looks like an HTML page)"  # told by a parse worker process


def test_shell_answers_name_shell_commands_and_count_right(server: FeedServer, tmp_path: Path) -> None:
    one = server.set("/one.xml", body=rss([{"title": "x", "guid": "1"}], title="One Item"))
    cfg = write_config(tmp_path / "cfg.yaml", [("Alpha", "https://a.example/rss")])
    db = str(tmp_path / "nw.db")
    missing = run_cli("feeds", "rm", "Nope", "--config", str(cfg), "--db", db)
    assert missing.returncode == 1
    assert missing.stderr == "error: no feed is called 'Nope'; python -m bot feeds list lists them with their numbers\n"
    added = run_cli("feeds", "add", one, "--config", str(cfg), "--db", db)
    assert added.stdout == "Added #2 One Item (rss, every 10m): 1 item on it now.\n"
    checked = run_cli("check", "--config", str(cfg))
    assert checked.stdout == f"{cfg}: ok: 2 topics, 2 feeds (2 enabled)\n"
    cfg.write_text("topics:\n  - id: t\n    query: x\nfeeds:\n  - url: https://a.example/rss\n", encoding="utf-8")
    assert run_cli("check", "--config", str(cfg)).stdout == f"{cfg}: ok: 1 topic, 1 feed (1 enabled)\n"
    assert run_cli("feeds", "export", "--opml", "-o", str(tmp_path / "f.opml"), "--config", str(cfg)).stdout == (
        f"1 feed written to {tmp_path / 'f.opml'}\n"
    )


@pytest.mark.parametrize(
    ("body", "content_type", "looks_like"),
    [
        (ROOT.joinpath("README.md").read_bytes(), "text/plain; charset=utf-8", "plain text"),
        (ROOT.joinpath("README.md").read_bytes(), "text/markdown", "plain text"),
        (
            b"<!DOCTYPE html><html><head><title>News</title></head><body><p>hi</p></body></html>",
            "text/html",
            "an HTML page, and it names no feed",
        ),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png", "a PNG image"),
        (b"", "application/rss+xml", "an empty response"),
        (b'{"data": [1, 2]}', "text/plain", "a JSON document, not a JSON Feed"),
    ],
    ids=["readme", "markdown", "html", "png", "empty", "json"],
)
def test_feeds_add_says_what_a_non_feed_looks_like(
    server: FeedServer, tmp_path: Path, body: bytes, content_type: str, looks_like: str
) -> None:
    url = server.set("/thing", body=body, headers={"Content-Type": content_type})
    cfg = write_config(tmp_path / "feeds.yaml", [("Alpha", "https://a.example/rss")])
    before = cfg.read_bytes()
    out = run_cli("feeds", "add", url, "--config", str(cfg), "--db", str(tmp_path / "nw.db"))
    assert out.returncode == 1
    assert out.stderr == f"error: not a feed (it looks like {looks_like})\n"
    assert cfg.read_bytes() == before


def test_a_refused_config_notice_names_the_files_own_name(server: FeedServer, tmp_path: Path) -> None:
    url = server.set("/a.xml", body=rss([]))
    cfg = with_interval(write_config(tmp_path / "cfg.yaml", [("Alpha", url)]))
    proc, out, err = start_run(cfg, tmp_path / "nw.db")
    try:
        err.wait_for(lambda t: "alerts go to the console" in t)
        cfg.write_text(cfg.read_text(encoding="utf-8").replace("interval: 1s", "interval: soon"), encoding="utf-8")
        out.wait_for(lambda t: "was not applied" in t)
    finally:
        stop(proc)
    assert "⚠️ cfg.yaml was not applied: cfg.yaml:" in out.text and "feeds.yaml" not in out.text


def test_run_with_a_token_says_alerts_go_to_telegram_as_the_bot(server: FeedServer, botapi: BotAPI, tmp_path: Path) -> None:
    url = server.set("/a.xml", body=rss([]))
    proc = start_bot(write_config(tmp_path / "feeds.yaml", [("Alpha", url)]), tmp_path / "nw.db", botapi)
    try:
        assert botapi.wait_for(lambda: botapi.state.commands, 30), "setMyCommands never called"
    finally:
        err = stop_bot(proc)
    assert "INFO bot.app: alerts go to Telegram as @newswatch_test_bot\n" in err
    assert "alerts go to the console" not in err


def test_stopping_run_mid_poll_prints_no_traceback(server: FeedServer, tmp_path: Path) -> None:
    gate = threading.Event()
    url = server.set("/slow.xml", body=rss([{"title": "Peskov", "guid": "1", "link": "https://s.example/1"}]), gate=gate)
    proc, _, err = start_run(with_interval(write_config(tmp_path / "feeds.yaml", [("Slow", url)])), tmp_path / "nw.db")
    try:
        err.wait_for(lambda t: "alerts go to the console" in t)
        deadline = time.monotonic() + 10
        while server.hits["/slow.xml"] == 0 and time.monotonic() < deadline:  # the poll is waiting for its answer
            time.sleep(0.02)
        assert server.hits["/slow.xml"] == 1
        stop(proc)
    finally:
        gate.set()
    err.wait_for(lambda t: "INFO bot.app: stopped" in t)
    assert "Traceback" not in err.text and "ERROR" not in err.text
    assert "INFO bot.scheduler: poll stopped by shutdown feed=Slow" in err.text
