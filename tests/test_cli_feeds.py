"""`python -m bot run` picking up feeds.yaml edits, and `python -m bot feeds ...`, as separate processes."""

from __future__ import annotations

import signal
from pathlib import Path

from bot.config import load_config
from bot.opml import parse_opml
from tests.feedserver import FeedServer, rss
from tests.procs import Lines
from tests.test_cli import run_cli, start_run, with_interval, write_config


def test_run_applies_feeds_yaml_edits_and_refuses_a_broken_file(server: FeedServer, tmp_path: Path) -> None:
    a = server.set("/a.xml", body=rss([{"title": "Peskov on talks", "guid": "1", "link": "https://l.example/1"}]))
    b = server.set("/b.xml", body=rss([{"title": "Rutte in Kyiv", "guid": "1", "link": "https://l.example/2"}]))
    cfg = with_interval(write_config(tmp_path / "feeds.yaml", [("Alpha", a)]))
    proc = start_run(cfg, tmp_path / "nw.db")
    out = Lines(proc.stdout)
    try:
        out.wait_for(lambda t: "Peskov on talks" in t)
        with_interval(write_config(cfg, [("Alpha", a), ("Beta", b)]))  # a new feed, by hand
        out.wait_for(lambda t: "Rutte in Kyiv" in t)
        good = cfg.read_text(encoding="utf-8")
        cfg.write_text(good.replace("  - id: rutte\n", "  - id: Rutte!\n"), encoding="utf-8")
        out.wait_for(lambda t: "feeds.yaml was not applied" in t)
        assert "⚠️ feeds.yaml was not applied: feeds.yaml:" in out.text and "topics[1].id: String should match" in out.text
        server.set("/b.xml", body=rss([{"title": "Рютте прибыл в Вильнюс", "guid": "2", "link": "https://l.example/3"}]))
        out.wait_for(lambda t: "Рютте прибыл в Вильнюс" in t)  # still running, with the previous config
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "config not applied, the running config stays: feeds.yaml:" in err
    assert out.text.count("Peskov on talks") == 1 and out.text.count("Rutte in Kyiv") == 1


def test_feeds_add_list_rm_from_the_shell(server: FeedServer, tmp_path: Path) -> None:
    a = server.set("/a.xml", body=rss([]))
    b = server.set("/b.xml", body=rss([{"title": "x", "guid": "1"}], title="Bravo News"))
    page = server.set("/page", body=b"<html><body>hello</body></html>")
    cfg = write_config(tmp_path / "feeds.yaml", [("Alpha", a)])
    cfg.write_text("# my feeds\n" + cfg.read_text(encoding="utf-8"), encoding="utf-8")
    db = str(tmp_path / "nw.db")
    added = run_cli("feeds", "add", b, "--interval", "15m", "--config", str(cfg), "--db", db)
    assert added.returncode == 0, added.stderr
    assert added.stdout == "Added #2 Bravo News (rss, every 15m): 1 item on it now.\n"
    refused = run_cli("feeds", "add", page, "--config", str(cfg), "--db", db)
    assert refused.returncode == 1
    assert refused.stderr == "error: not a feed (it looks like an HTML page, and it names no feed)\n"
    listed = run_cli("feeds", "list", "--config", str(cfg), "--db", db)
    assert "#1 Alpha · every 10m" in listed.stdout and "#2 Bravo News · every 15m" in listed.stdout
    assert "not polled yet" in listed.stdout
    removed = run_cli("feeds", "rm", "Alpha", "--config", str(cfg), "--db", db)
    assert removed.stdout == "Removed #1 Alpha. Its items and hits are kept.\n"
    text = cfg.read_text(encoding="utf-8")
    assert text.startswith("# my feeds\n") and a not in text and "    interval: 15m\n" in text
    missing = run_cli("feeds", "rm", "Alpha", "--config", str(cfg), "--db", db)
    assert missing.returncode == 1 and "no feed is called 'Alpha'" in missing.stderr


def test_feeds_export_and_import_opml(tmp_path: Path) -> None:
    source = write_config(tmp_path / "feeds.yaml", [("Alpha", "https://a.example/rss"), ("Beta", "https://b.example/rss")])
    source.write_text(source.read_text(encoding="utf-8") + "  - name: Channel\n    telegram: '@meduzalive'\n", encoding="utf-8")
    exported = run_cli("feeds", "export", "--opml", "--config", str(source))
    assert exported.returncode == 0, exported.stderr
    assert [(f.name, f.url, f.telegram) for f in parse_opml(exported.stdout)] == [
        ("Alpha", "https://a.example/rss", None),
        ("Beta", "https://b.example/rss", None),
        ("Channel", None, "meduzalive"),
    ]
    opml = tmp_path / "reader.opml"
    assert run_cli("feeds", "export", "--opml", "-o", str(opml), "--config", str(source)).returncode == 0
    target = write_config(tmp_path / "other.yaml", [("Beta here", "https://b.example/rss")])
    imported = run_cli("feeds", "import", str(opml), "--config", str(target), "--db", str(tmp_path / "o.db"))
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout == "Imported 2 feeds; 1 was already there.\n"
    assert [f.source for f in load_config(target).feeds] == ["https://b.example/rss", "https://a.example/rss", "tg:meduzalive"]
    bad = tmp_path / "bad.opml"
    bad.write_text("<html>", encoding="utf-8")
    failed = run_cli("feeds", "import", str(bad), "--config", str(target), "--db", str(tmp_path / "o.db"))
    assert failed.returncode == 1 and failed.stderr.startswith("error: opml:")
