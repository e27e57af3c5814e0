"""`once` and `check` start with only the code they use: no Telegram, scheduler or admin code, and no numpy
(sqlite-utils would import it when installed)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot.once import UNREAD_IN_THREAD
from tests.conftest import ROOT
from tests.feedserver import FeedServer, rss

HEAVY = ("telegram", "apscheduler", "bot.admin", "bot.app", "bot.telegram", "httpx", "numpy", "pandas")

PROBE = """
import json, sys
from bot.__main__ import main
code = main(sys.argv[1:])
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {"telegram", "apscheduler", "httpx", "numpy", "pandas"} or m.startswith(("bot.admin", "bot.app", "bot.telegram")))
print(json.dumps({"code": code, "heavy": heavy}))
"""


@pytest.mark.parametrize("command", [["check"], ["once", "--json"]])
def test_once_and_check_import_no_telegram_scheduler_admin_code_or_numpy(
    command: list[str], tmp_path: Path, server: FeedServer
) -> None:
    url = server.set("/f", body=rss([{"title": "Peskov spoke", "link": "https://n.example/1"}]))
    config = tmp_path / "feeds.yaml"
    config.write_text(f"topics:\n  - id: peskov\n    query: peskov\nfeeds:\n  - name: N\n    url: {url}\n", encoding="utf-8")
    argv = [*command, "--config", str(config), "--db", str(tmp_path / "nw.db")]
    env = {"NEWSWATCH_ALLOW_PRIVATE_URLS": "1", "NEWSWATCH_PARSE_WORKERS": "1", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", PROBE, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["code"] == 0, out.stderr
    assert report["heavy"] == []
    if command[0] == "once":
        assert json.loads(out.stdout.splitlines()[0])["title"] == "Peskov spoke"  # it did poll


DICTIONARIES = """
import json, sys
from bot.__main__ import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "loaded": sorted(m for m in sys.modules if m.split(".")[0] in {"pymorphy3", "simplemma"})}))
"""


def test_with_parse_workers_the_main_process_loads_no_lemma_dictionaries(tmp_path: Path, server: FeedServer) -> None:
    # More feeds never read than `once` parses in its own thread: the workers parse them all.
    feeds = ""
    for f in range(UNREAD_IN_THREAD + 1):
        items = [
            {"title": f"Песков заявил {f} {n}", "link": f"https://n.example/{f}/{n}", "description": "Кремль"} for n in range(2)
        ]
        feeds += f"  - name: N{f}\n    url: {server.set(f'/f{f}', body=rss(items))}\n"
    config = tmp_path / "feeds.yaml"
    config.write_text(f"topics:\n  - id: peskov\n    query: песков OR peskov\nfeeds:\n{feeds}", encoding="utf-8")
    argv = ["once", "--json", "--config", str(config), "--db", str(tmp_path / "nw.db")]
    env = {"NEWSWATCH_ALLOW_PRIVATE_URLS": "1", "NEWSWATCH_PARSE_WORKERS": "2", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", DICTIONARIES, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=90
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report == {"code": 0, "loaded": []}, out.stderr
    hits = [json.loads(line) for line in out.stdout.strip().splitlines()[:-1]]
    assert hits and all(h["matched"] == ["песков"] for h in hits)  # matched (in the workers) and printed


SECOND_POLL = """
import json, sys
import psutil
from bot.__main__ import main
code = main(sys.argv[1:])
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {"feedparser", "lxml", "selectolax", "pymorphy3", "simplemma"}
                or m.startswith(("bot.sources.parseworker", "bot.clustering", "bot.matching", "storage.items")))
print(json.dumps({"code": code, "loaded": loaded, "children": len(psutil.Process().children(recursive=True))}))
"""


def poll_twice(server: FeedServer, tmp_path: Path, feeds: int, change: bool) -> tuple[dict[str, object], list[str]]:
    """Two `once` polls of `feeds` feeds with ETags (two parse workers allowed); between them every feed
    gains an item when `change`. The second runs in a probe; (its report, the hits it printed)."""

    def publish(extra: int) -> str:
        feeds_yaml = ""
        for f in range(feeds):
            items = [
                {"title": f"Kremlin budget {f} {n}", "link": f"https://n.example/{f}/{n}", "guid": f"{f}-{n}"} for n in range(3)
            ]
            items += [
                {"title": f"Peskov spoke {f} {n}", "link": f"https://n.example/{f}/p{n}", "guid": f"{f}-p{n}"}
                for n in range(extra)
            ]
            url = server.set(f"/f{f}", body=rss(items), etag=f'"{f}-{extra}"')
            feeds_yaml += f"  - name: N{f}\n    url: {url}\n"
        return feeds_yaml

    config = tmp_path / "feeds.yaml"
    config.write_text(f"topics:\n  - id: peskov\n    query: peskov\nfeeds:\n{publish(0)}", encoding="utf-8")
    argv = ["once", "--json", "--config", str(config), "--db", str(tmp_path / "nw.db")]
    env = {"NEWSWATCH_ALLOW_PRIVATE_URLS": "1", "NEWSWATCH_PARSE_WORKERS": "2", "PATH": "/usr/bin:/bin"}
    first = subprocess.run([sys.executable, "-m", "bot", *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0 and not first.stdout, first.stderr
    if change:
        publish(1)
    out = subprocess.run(
        [sys.executable, "-c", SECOND_POLL, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    lines = out.stdout.strip().splitlines()
    return json.loads(lines[-1]), lines[:-1]


def test_a_once_poll_whose_feeds_all_answer_304_loads_no_parser_matcher_or_clustering(server: FeedServer, tmp_path: Path) -> None:
    report, hits = poll_twice(server, tmp_path, feeds=3, change=False)
    assert report == {"code": 0, "loaded": [], "children": 0} and hits == []
    conditional = [h for path, h in server.requests[-3:] if path.startswith("/f")]
    assert len(conditional) == 3 and all(h.get("If-None-Match") for h in conditional)  # three 304s
    with sqlite3.connect(tmp_path / "nw.db") as conn:  # and each feed's state was recorded
        assert conn.execute("SELECT last_status, error_count FROM feeds").fetchall() == [(304, 0)] * 3


def test_a_once_poll_of_a_few_changed_feeds_parses_them_in_its_thread_without_a_worker(
    server: FeedServer, tmp_path: Path
) -> None:
    # More changed bodies than a worker would be started for before (4 waiting), far less work than a worker start.
    report, hits = poll_twice(server, tmp_path, feeds=8, change=True)
    assert report["code"] == 0 and report["children"] == 0, report  # no fork server, no worker
    assert "bot.sources.parseworker" in report["loaded"]  # parsed in the poll's own process
    assert hits and all(json.loads(h)["title"].startswith("Peskov spoke") for h in hits)  # one per story
    with sqlite3.connect(tmp_path / "nw.db") as conn:
        new = conn.execute("SELECT title FROM items WHERE title LIKE 'Peskov%' ORDER BY title").fetchall()
    assert new == [(f"Peskov spoke {f} 0",) for f in range(8)]
