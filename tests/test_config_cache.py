"""A poll takes the validated feeds.yaml from the cache beside the database while the file is unchanged,
and validates it again the moment it changes (a wrong or stale cache is never used)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

from bot.config import Config, load_config
from bot.config_cache import _from_json, _to_json
from tests.conftest import ROOT
from tests.feedserver import FeedServer, rss

PROBE = """
import json, sys
from bot.__main__ import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "validated": "pydantic" in sys.modules or "ruamel.yaml" in sys.modules}))
"""


def test_the_cached_form_keeps_every_field_of_the_config() -> None:
    config = load_config(ROOT / "feeds.yaml")
    assert _from_json(json.loads(json.dumps(_to_json(config))), config.path) == config
    assert set(_to_json(config)) == {f.name for f in fields(Config)} - {"path"}


def test_a_poll_validates_feeds_yaml_only_when_it_changed_and_never_in_its_own_process(
    tmp_path: Path, server: FeedServer
) -> None:
    url = server.set("/f", body=rss([{"title": "Rutte in Kyiv", "link": "https://n.example/1"}]))
    config = tmp_path / "feeds.yaml"
    config.write_text(f"topics:\n  - id: rutte\n    query: rutte\nfeeds:\n  - name: N\n    url: {url}\n", encoding="utf-8")
    cache = tmp_path / "nw.db.config.json"
    argv = ["once", "--json", "--config", str(config), "--db", str(tmp_path / "nw.db")]
    env = {"NEWSWATCH_ALLOW_PRIVATE_URLS": "1", "NEWSWATCH_PARSE_WORKERS": "1", "PATH": "/usr/bin:/bin"}

    def once() -> tuple[dict[str, object], list[str], str]:
        """The poll's report, whether it validated the file (wrote the cache anew) and its hits."""
        before = cache.stat().st_mtime_ns if cache.exists() else None
        out = subprocess.run([sys.executable, "-c", PROBE, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        lines = out.stdout.strip().splitlines()
        report = json.loads(lines[-1])
        assert report.pop("validated") is False  # the validator never loads in the poll's own process
        report["validated"] = cache.exists() and cache.stat().st_mtime_ns != before
        return report, [json.loads(line)["topic"] for line in lines[:-1]], out.stderr

    assert once()[:2] == ({"code": 0, "validated": True}, ["rutte"])
    assert once()[:2] == ({"code": 0, "validated": False}, [])  # unchanged: read from the cache
    # A new topic is seen at once: the changed text is validated again.
    config.write_text(config.read_text(encoding="utf-8").replace("feeds:", "  - id: kyiv\n    query: kyiv\nfeeds:"))
    server.set("/f", body=rss([{"title": "Rutte in Kyiv again", "link": "https://n.example/2"}]))
    report, topics, _ = once()
    assert report == {"code": 0, "validated": True} and sorted(topics) == ["kyiv", "rutte"]
    # An error in the file is reported in one line, never hidden behind the last good config.
    config.write_text(config.read_text(encoding="utf-8").replace("query: kyiv", "query: (kyiv"))
    report, topics, err = once()
    check = subprocess.run(
        [sys.executable, "-m", "bot", "check", "--config", str(config)], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert report["code"] == 1 and err.startswith("error: feeds.yaml:5: ") and "query" in err and len(err.splitlines()) == 1
    assert err == check.stderr  # the message `check` gives, validating in its own process
    # A cache that cannot be read is ignored.
    config.write_text(config.read_text(encoding="utf-8").replace("query: (kyiv", "query: kyiv"))
    cache.write_text("{not json", encoding="utf-8")
    assert once()[0] == {"code": 0, "validated": True}
    assert once()[0] == {"code": 0, "validated": False}
    # Where the cache cannot be written (a directory stands in its place), the poll validates the file itself.
    cache.unlink()
    cache.mkdir()
    out = subprocess.run([sys.executable, "-c", PROBE, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"code": 0, "validated": True}
