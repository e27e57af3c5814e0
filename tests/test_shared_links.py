"""Items of one feed that share one link and have no guid are told apart by title and text, and the
feed's health says so; a database that keyed such a feed's items by the link keeps working."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.feedserver import FeedServer, rss
from tests.test_cli import run_cli, write_config

SECTION = "https://outlet.example/news"  # every item's link: a page that names no single article

TITLES = [
    "Peskov comments on the Baltic shipping dispute",
    "Peskov denies reports about Arctic oil licences",
    "Peskov rejects the Danube bridge proposal",
    "Peskov answers questions on the Tbilisi summit",
    "Peskov praises the harvest of Kursk farmers",
]


def shared_link_items(titles: list[str]) -> list[dict[str, str]]:
    return [{"title": t, "link": SECTION, "description": f"{t}. Details follow."} for t in titles]


def stored(db: Path) -> list[tuple[str, str]]:
    """(key, title) of every stored item, in the order stored."""
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT key, title FROM items ORDER BY id").fetchall()
    conn.close()
    return [(str(k), str(t)) for k, t in rows]


def printed_titles(stdout: str) -> list[str]:
    return [json.loads(line)["title"] for line in stdout.splitlines() if line.strip()]


def test_items_sharing_one_link_are_all_kept_and_the_feed_says_so(server: FeedServer, tmp_path: Path) -> None:
    url = server.set("/shared.xml", body=rss(shared_link_items(TITLES)))
    cfg = write_config(tmp_path / "feeds.yaml", [("Outlet", url)])
    db = tmp_path / "nw.db"
    once = run_cli("once", "--json", "--config", str(cfg), "--db", str(db))
    assert once.returncode == 0, once.stderr
    assert sorted(t for _, t in stored(db)) == sorted(TITLES)
    assert sorted(printed_titles(once.stdout)) == sorted(TITLES)  # five stories: the shared link ties none
    listed = run_cli("feeds", "list", "--config", str(cfg), "--db", str(db))
    assert f"Note: identity: 5 items share the link {SECTION}: told apart by title and text" in listed.stdout
    again = run_cli("once", "--json", "--config", str(cfg), "--db", str(db))
    assert again.stdout == "" and len(stored(db)) == 5


def test_items_stored_under_the_shared_link_are_not_alerted_again(server: FeedServer, tmp_path: Path) -> None:
    cfg_url = server.set("/shared.xml", body=rss(shared_link_items(TITLES[:1])))
    cfg = write_config(tmp_path / "feeds.yaml", [("Outlet", cfg_url)])
    db = tmp_path / "nw.db"
    # a database from before: the feed's first item was stored under the bare link (the others were lost)
    first = run_cli("once", "--json", "--config", str(cfg), "--db", str(db))
    assert printed_titles(first.stdout) == TITLES[:1]
    assert stored(db) == [(SECTION, TITLES[0])]

    server.set("/shared.xml", body=rss(shared_link_items(TITLES[:3])))
    second = run_cli("once", "--json", "--config", str(cfg), "--db", str(db))
    assert sorted(printed_titles(second.stdout)) == sorted(TITLES[1:3])  # the first is known: not again
    assert sorted(t for _, t in stored(db)) == sorted(TITLES[:3])

    # the feed is back to one item on that link: it is the one stored under the titled key
    server.set("/shared.xml", body=rss(shared_link_items(TITLES[2:3])))
    third = run_cli("once", "--json", "--config", str(cfg), "--db", str(db))
    assert third.stdout == ""
    assert sorted(t for _, t in stored(db)) == sorted(TITLES[:3])
    assert (SECTION, TITLES[0]) in stored(db)  # the item under the bare link keeps its own title
