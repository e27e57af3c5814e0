"""`once` and `check` start with only the code they use: no Telegram, scheduler or admin code, and no numpy
(sqlite-utils would import it when installed)."""

from __future__ import annotations

import json
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
