from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.feedserver import FeedServer, rss


def write_config(path: Path, feeds: list[tuple[str, str]], extra_topics: str = "") -> Path:
    lines = [
        "topics:",
        "  - id: peskov",
        "    query: peskov OR песков*",
        "  - id: rutte",
        "    query: rutte OR рютте*",
        extra_topics,
        "feeds:",
    ]
    for name, url in feeds:
        lines += [f"  - name: {name}", f"    url: {url}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def with_interval(path: Path, seconds: str = "1s") -> Path:
    """Give every feed of a config written by write_config this poll interval."""
    text = path.read_text(encoding="utf-8")
    lines = [line + (f"\n    interval: {seconds}" if line.startswith("    url: ") else "") for line in text.splitlines()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def start_run(cfg: Path, db: Path) -> subprocess.Popen[str]:
    """`python -m bot run` without a token (alerts on stdout), local feeds allowed."""
    env = {**os.environ, "NEWSWATCH_ALLOW_PRIVATE_URLS": "1", "NEWSWATCH_PARSE_WORKERS": "1"}
    env.pop("TELEGRAM_BOT_TOKEN", None)
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--config", str(cfg), "--db", str(db)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_cli(*args: str, env_extra: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NEWSWATCH_ALLOW_PRIVATE_URLS": "1", "NEWSWATCH_PARSE_WORKERS": "1", **(env_extra or {})}
    env.pop("TELEGRAM_BOT_TOKEN", None)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_once_twice_prints_each_hit_once(server: FeedServer, tmp_path: Path) -> None:
    a = server.set(
        "/a.xml",
        body=rss(
            [
                {
                    "title": "Peskov denies talks",
                    "link": "https://n.example/1",
                    "guid": "1",
                    "pubDate": "Mon, 21 Oct 2024 10:00:00 GMT",
                },
                {"title": "Weather today", "link": "https://n.example/2", "guid": "2"},
            ]
        ),
        etag='"1"',
    )
    b = server.set("/b.xml", body=rss([{"title": "Рютте прибыл в Киев", "link": "https://m.example/r", "guid": "r"}]))
    cfg = write_config(tmp_path / "feeds.yaml", [("Alpha", a), ("Beta", b)])
    db = tmp_path / "nw.db"
    first = run_cli("once", "--config", str(cfg), "--db", str(db), "--json")
    second = run_cli("once", "--config", str(cfg), "--db", str(db), "--json")
    assert first.returncode == 0, first.stderr
    hits = [json.loads(line) for line in first.stdout.splitlines()]
    assert sorted((h["topic"], h["feed"], h["title"]) for h in hits) == [
        ("peskov", "Alpha", "Peskov denies talks"),
        ("rutte", "Beta", "Рютте прибыл в Киев"),
    ]
    peskov = next(h for h in hits if h["topic"] == "peskov")
    assert peskov["url"] == "https://n.example/1" and peskov["published"] == "2024-10-21T10:00:00+00:00"
    assert peskov["matched"] == ["peskov"] and isinstance(peskov["story"], int)
    assert second.returncode == 0 and second.stdout == ""


def test_once_reports_feed_errors_on_stderr_and_exits_zero(server: FeedServer, tmp_path: Path) -> None:
    good = server.set("/good", body=rss([{"title": "Rutte speaks", "guid": "1", "link": "https://x.example/1"}]))
    bad = server.set("/bad", status=500)
    cfg = write_config(tmp_path / "feeds.yaml", [("Good", good), ("Broken", bad)])
    out = run_cli("once", "--config", str(cfg), "--db", str(tmp_path / "nw.db"))
    assert out.returncode == 0
    assert "Broken: fetcher: HTTP 500" in out.stderr
    assert "Rutte speaks" in out.stdout and "TOPIC" in out.stdout  # the readable table


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "feeds:\n  - name: x\n    url: https://a.example/f\n    interval: 5 mins\n",
            "feeds.yaml:4: feeds[0].interval: '5 mins' is not a duration like 90s, 5m, 1h",
        ),
        ("topics:\n  - id: t\n    query: '(rutte'\n", "feeds.yaml:3: topics[0].query: query: missing ')'"),
        (
            "feeds:\n  - name: x\n    url: https://a.example/f\n  - name: y\n    telegram: a b\n",
            "feeds.yaml:5: feeds[1].telegram: 'a b' is not a public channel username",
        ),
        ("feeds: [\n", "feeds.yaml:2:"),
        ("feeds:\n  - name: x\n    urll: https://a.example/f\n", "feeds.yaml:3: feeds[0].urll: unknown field"),
    ],
)
def test_check_names_the_file_line_and_problem(tmp_path: Path, text: str, expected: str) -> None:
    cfg = tmp_path / "feeds.yaml"
    cfg.write_text(text, encoding="utf-8")
    out = run_cli("check", "--config", str(cfg))
    assert out.returncode == 1
    assert expected in out.stderr


def test_check_accepts_the_shipped_feeds_yaml() -> None:
    out = run_cli("check", "--config", str(ROOT / "feeds.yaml"))
    assert out.returncode == 0 and "3 topics" in out.stdout


@pytest.mark.parametrize("command", ["once", "run", "check"])
def test_every_command_has_help(command: str) -> None:
    out = run_cli(command, "--help")
    assert out.returncode == 0 and "--config" in out.stdout and "--db" in out.stdout


def test_sigkill_mid_poll_loses_and_doubles_nothing(server: FeedServer, tmp_path: Path) -> None:
    gate = threading.Event()
    fast = server.set(
        "/fast", body=rss([{"title": f"Peskov {i}", "guid": f"f{i}", "link": f"https://f.example/{i}"} for i in range(3)])
    )
    slow = server.set(
        "/slow",
        body=rss([{"title": f"Rutte {i}", "guid": f"s{i}", "link": f"https://s.example/{i}"} for i in range(3)]),
        gate=gate,
    )
    cfg = write_config(tmp_path / "feeds.yaml", [("Fast", fast), ("Slow", slow)])
    db = tmp_path / "nw.db"
    env = {**os.environ, "NEWSWATCH_ALLOW_PRIVATE_URLS": "1", "NEWSWATCH_PARSE_WORKERS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "once", "--config", str(cfg), "--db", str(db), "--json"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    before_kill = [proc.stdout.readline() for _ in range(3)]  # the fast feed's hits, printed and marked
    deadline = time.monotonic() + 10
    while server.hits["/slow"] == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)  # let the reporting of the fast feed's hits reach the database
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    gate.set()
    after = run_cli("once", "--config", str(cfg), "--db", str(db), "--json")
    titles = [json.loads(line)["title"] for line in before_kill + after.stdout.splitlines() if line.strip()]
    assert sorted(titles) == sorted([f"Peskov {i}" for i in range(3)] + [f"Rutte {i}" for i in range(3)])
    third = run_cli("once", "--config", str(cfg), "--db", str(db), "--json")
    assert third.stdout == ""


def test_run_prints_hits_once_and_stops_cleanly_on_sigterm(server: FeedServer, tmp_path: Path) -> None:
    url = server.set("/live", body=rss([{"title": "Peskov on talks", "guid": "1", "link": "https://l.example/1"}]))
    cfg = with_interval(write_config(tmp_path / "feeds.yaml", [("Live", url)]))
    proc = start_run(cfg, tmp_path / "nw.db")
    deadline = time.monotonic() + 20
    while server.hits["/live"] < 3 and time.monotonic() < deadline:  # polled several times
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    assert server.hits["/live"] >= 3
    assert proc.returncode == 0, err
    assert out.count("Peskov on talks") == 1
    assert "🔔 peskov\nPeskov on talks — https://l.example/1\nLive · " in out  # the alert a subscriber would get
    assert "stopped" in err
