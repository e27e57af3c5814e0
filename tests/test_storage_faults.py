"""A broken database or environment gives one `storage:` line naming the file and the remedy, and loses nothing."""

from __future__ import annotations

import json
import os
import resource
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlite_utils

from bot.errors import DiskFull, SchemaMismatch
from storage.db import MIGRATIONS, AsyncDB, open_database
from tests.conftest import ROOT
from tests.feedserver import FeedServer, rss
from tests.test_cli import run_cli, write_config


def migrated(path: Path) -> Path:
    open_database(path).close()
    return path


def sql(path: Path, statement: str) -> None:
    conn = sqlite3.connect(path)
    conn.execute(statement)
    conn.commit()
    conn.close()


def drop_hits(tmp: Path) -> Path:
    db = migrated(tmp / "nw.db")
    sql(db, "DROP TABLE hits")
    return db


def set_version(version: int) -> Callable[[Path], Path]:
    def setup(tmp: Path) -> Path:
        db = migrated(tmp / "nw.db")
        sql(db, f"PRAGMA user_version={version}")
        return db

    return setup


def not_sqlite(tmp: Path) -> Path:
    db = tmp / "nw.db"
    db.write_text("feeds:\n  - name: oops, the config\n", encoding="utf-8")
    return db


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (lambda tmp: tmp / "missing" / "nw.db", "nw.db: the directory {tmp}/missing does not exist: create it"),
        (lambda tmp: tmp, "storage: {tmp} is a directory, not a database file: give a file such as {tmp}/newswatch.db"),
        (drop_hits, "nw.db: table hits is missing although the schema version is {version}"),
        (set_version(99), "nw.db: the database has schema 99, newer than this program's {version}: run the newer"),
        (set_version(0), "nw.db: upgrading the schema from 0 to 1 failed (table feeds already exists)"),
        (not_sqlite, "nw.db is not a SQLite database (or is encrypted): check --db / NEWSWATCH_DB"),
    ],
    ids=["missing-directory", "directory", "dropped-table", "newer-schema", "version-behind-tables", "not-sqlite"],
)
def test_a_database_that_cannot_be_used_gives_one_storage_line(
    tmp_path: Path, setup: Callable[[Path], Path], expected: str
) -> None:
    cfg = write_config(tmp_path / "feeds.yaml", [("Local", "http://127.0.0.1:9/feed")])
    db = setup(tmp_path)
    out = run_cli("once", "--config", str(cfg), "--db", str(db))
    assert out.returncode == 1
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("error: storage: "), out.stderr
    assert expected.format(tmp=tmp_path, version=len(MIGRATIONS)) in out.stderr


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    """A migrated database file nobody may write, root included (chattr +i when running as root)."""
    db = migrated(tmp_path / "nw.db")
    if os.geteuid() != 0:
        db.chmod(0o444)
        yield db
        return
    if subprocess.run(["chattr", "+i", str(db)], capture_output=True).returncode != 0:
        pytest.skip("running as root and chattr +i is not available here")
    try:
        yield db
    finally:
        subprocess.run(["chattr", "-i", str(db)], check=True)


def test_a_read_only_database_says_so(tmp_path: Path, read_only: Path) -> None:
    cfg = write_config(tmp_path / "feeds.yaml", [("Local", "http://127.0.0.1:9/feed")])
    out = run_cli("once", "--config", str(cfg), "--db", str(read_only))
    assert out.returncode == 1
    assert out.stderr.count("\n") == 1, out.stderr
    assert f"error: storage: {read_only} is read-only for this user (uid {os.geteuid()})" in out.stderr


async def test_a_write_on_a_full_database_is_a_disk_full_error_and_is_rolled_back(
    fresh_db: sqlite_utils.Database,
) -> None:
    adb = AsyncDB(fresh_db)
    pages = fresh_db.execute("PRAGMA page_count").fetchone()[0]
    fresh_db.execute(f"PRAGMA max_page_count={pages + 2}")  # SQLite's own size limit: SQLITE_FULL, for real

    def fill(db: sqlite_utils.Database) -> None:
        with db.conn:
            for n in range(200):
                db.conn.execute(
                    "INSERT INTO stories (title, first_seen_at, last_seen_at) VALUES (?, 'x', 'x')", ["t" * 2000 + str(n)]
                )

    with pytest.raises(DiskFull) as err:
        await adb.run(fill)
    assert str(err.value) == f"storage: disk full writing {adb.path}: free space and restart; nothing was lost"
    assert fresh_db.execute("SELECT count(*) FROM stories").fetchone()[0] == 0


async def test_a_query_on_a_dropped_table_is_a_schema_error(fresh_db: sqlite_utils.Database) -> None:
    adb = AsyncDB(fresh_db)
    fresh_db.execute("DROP TABLE deliveries")
    with pytest.raises(SchemaMismatch, match=r"^storage: .*test\.db: no such table: deliveries: the database was changed"):
        await adb.run(lambda db: db.execute("SELECT count(*) FROM deliveries").fetchone())


def big_feed(n: int) -> bytes:
    """n long items about Peskov, no two alike (so each is a story of its own, with a hit of its own)."""
    items = [
        {
            "title": f"Peskov {i}",
            "guid": f"g{i}",
            "link": f"https://d.example/{i}",
            "description": "Peskov " + " ".join(f"w{i}x{j}" for j in range(300)),
        }
        for i in range(n)
    ]
    return rss(items)


def limit_file_size(max_bytes: int) -> Callable[[], None]:
    def preexec() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return preexec


def test_once_on_a_disk_that_refuses_writes_stops_with_one_line_and_loses_nothing(server: FeedServer, tmp_path: Path) -> None:
    url = server.set("/big", body=big_feed(2))
    cfg = write_config(tmp_path / "feeds.yaml", [("Big", url)])
    db = tmp_path / "nw.db"
    assert run_cli("once", "--config", str(cfg), "--db", str(db), "--json").returncode == 0
    server.set("/big", body=big_feed(300))
    env = {**os.environ, "NEWSWATCH_ALLOW_PRIVATE_URLS": "1", "NEWSWATCH_PARSE_WORKERS": "1"}
    full = subprocess.run(
        [sys.executable, "-m", "bot", "once", "--config", str(cfg), "--db", str(db), "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=limit_file_size(256 * 1024),  # the WAL cannot grow past 256 KiB: writes fail (EFBIG)
    )
    assert full.returncode == 1 and full.stdout == ""
    assert full.stderr.count("\n") == 1, full.stderr
    assert full.stderr.startswith(f"error: storage: I/O error on {db} (disk I/O error): the disk may be full")
    assert full.stderr.rstrip().endswith("then restart; nothing was lost")
    again = run_cli("once", "--config", str(cfg), "--db", str(db), "--json")
    titles = {json.loads(line)["title"] for line in again.stdout.splitlines()}
    assert titles == {f"Peskov {i}" for i in range(2, 300)}


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 512 KiB tmpfs mounted for the test (root only; skipped elsewhere)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)]).returncode:
        pytest.skip("mounting a small tmpfs needs root")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def test_once_on_a_full_disk_says_disk_full_and_loses_nothing(server: FeedServer, tmp_path: Path, tiny_disk: Path) -> None:
    url = server.set("/big", body=big_feed(2))
    cfg = write_config(tmp_path / "feeds.yaml", [("Big", url)])
    db = tiny_disk / "nw.db"
    assert run_cli("once", "--config", str(cfg), "--db", str(db), "--json").returncode == 0
    server.set("/big", body=big_feed(300))
    full = run_cli("once", "--config", str(cfg), "--db", str(db), "--json")
    assert full.returncode == 1 and full.stdout == ""
    assert full.stderr == f"error: storage: disk full writing {db}: free space and restart; nothing was lost\n"
    subprocess.run(["mount", "-o", "remount,size=16m", str(tiny_disk)], check=True)  # space freed
    again = run_cli("once", "--config", str(cfg), "--db", str(db), "--json")
    titles = {json.loads(line)["title"] for line in again.stdout.splitlines()}
    assert titles == {f"Peskov {i}" for i in range(2, 300)}


def test_a_with_conn_block_is_one_transaction_even_through_sqlite_utils(fresh_db: sqlite_utils.Database) -> None:
    def story(title: str) -> None:
        fresh_db.execute("INSERT INTO stories (title, first_seen_at, last_seen_at) VALUES (?, 'x', 'x')", [title])

    with pytest.raises(RuntimeError), fresh_db.conn:
        story("first half")
        with fresh_db.conn:  # a block inside joins the outer one
            story("inner")
        raise RuntimeError("crash half-way")
    with fresh_db.conn:
        story("kept")
    assert [r[0] for r in fresh_db.execute("SELECT title FROM stories")] == ["kept"]


def test_a_store_from_before_storyless_items_upgrades_in_place_for_every_connection(tmp_path: Path) -> None:
    path = tmp_path / "nw.db"
    old = sqlite3.connect(path)
    for script in MIGRATIONS[:9]:
        old.executescript(script)
    old.execute("PRAGMA user_version=9")
    old.execute("INSERT INTO feeds (name, kind, url, source, interval_s) VALUES ('F', 'rss', 'u', 'u', 600)")
    old.execute("INSERT INTO stories (title, first_seen_at, last_seen_at) VALUES ('s', 'now', 'now')")
    old.execute("INSERT INTO items (feed_id, key, title, text, fetched_at, story_id) VALUES (1, 'a', 't', '', 'now', 1)")
    old.commit()
    with pytest.raises(sqlite3.IntegrityError):
        old.execute("INSERT INTO items (feed_id, key, title, text, fetched_at) VALUES (1, 'b', 't', '', 'now')")
    old.rollback()
    db = open_database(path)  # the upgrade, while `old` stays open
    db.execute("INSERT INTO items (feed_id, key, title, text, fetched_at) VALUES (1, 'b', 't', '', 'now')")
    old.execute("INSERT INTO items (feed_id, key, title, text, fetched_at) VALUES (1, 'c', 't', '', 'now')")
    old.commit()
    assert [r[0] for r in db.execute("SELECT story_id FROM items ORDER BY key")] == [1, None, None]
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
