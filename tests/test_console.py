"""The operator's console: global options, `run`'s start line and summaries, `once` in a terminal, wording."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.feedserver import FeedServer, rss
from tests.test_cli import run_cli, write_config


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
