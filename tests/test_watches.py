"""Personal watches below Telegram: the anchor index, the watches table and a real poll."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import sqlite_utils

from bot.matching.matcher import evaluate, index_text
from bot.matching.normalize import is_hangul
from bot.matching.query import parse_query
from bot.matching.watches import WatchIndex, anchors
from bot.models import FeedConfig, Topic, watch_key
from bot.pipeline import PollContext, poll_feed
from bot.sources.fetcher import Fetcher
from bot.sources.parsing import ParserPool
from bot.watches import WatchLimits, check_watch_query, split_name
from storage.db import AsyncDB
from storage.feeds import sync_feeds
from storage.subscribers import delete_subscriber, migrate_chat, start_subscriber, subscribe, update_subscriber
from storage.watches import (
    WatchChanges,
    add_watch,
    find_watch,
    list_watches,
    remove_watch,
    watch_hits,
    watch_labels,
    watch_story_counts,
    watch_totals,
)
from tests.conftest import ROOT
from tests.feedserver import FeedServer, rss

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
TEXTS = [
    ("Песков прокомментировал переброску войск КНДР", "Кремль не стал отрицать присутствие северокорейских военных"),
    ("Rutte: North Korean troops sent to Russia", "NATO secretary general Mark Rutte confirmed the deployment near Kursk"),
    ("Les troupes nord-coréennes en Russie", "Mark Rutte a confirmé la présence de soldats à Koursk"),
    ("Північнокорейські військові на Курщині", "Рютте підтвердив розгортання військ КНДР"),
    ("북한군, 쿠르스크 전선 투입", "뤼터 나토 사무총장은 북한군의 러시아 파병을 확인했다"),
    ("Weather in Paris", "Sunny with a light breeze"),
]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("rutte", {("rutte", False)}),
        ("kursk*", {("kursk", True)}),
        ('"north korean" troops', {("korean", False)}),  # one key, the longer word of the phrase
        ('"the kremlin"', {("kremlin", False)}),
        ("rutte OR песков", {("rutte", False), ("песков", False)}),
        ("nato rutte -weather", {("rutte", False)}),  # one key each: the longer word
        ("a -b", {("a", False)}),
        ("title:rutte", {("rutte", False)}),
        ("nato NEAR/3 kursk", {("kursk", False)}),
    ],
)
def test_anchors_are_keys_every_match_contains(query: str, expected: set[tuple[str, bool]]) -> None:
    found = anchors(parse_query(query))
    assert found is not None and expected <= found


def test_anchor_of_and_prefers_the_longer_word() -> None:
    assert anchors(parse_query("war kursk")) == {("kursk", False)}


def _brute_force(queries: dict[int, str], title: str, text: str, feed: str = "") -> dict[int, tuple[str, ...]]:
    idx = index_text(title, text, feed)
    found = {wid: evaluate(parse_query(q), idx) for wid, q in queries.items()}
    return {wid: tuple(dict.fromkeys(terms)) for wid, terms in found.items() if terms is not None}


def test_index_finds_exactly_what_evaluating_every_watch_finds() -> None:
    words = sorted({w for t, x in TEXTS for w in (t + " " + x).split() if len(w) > 3 and w.isalpha()})
    rnd = random.Random(3)
    queries: dict[int, str] = {}
    for i in range(300):
        a, b, c = rnd.sample(words, 3)
        shapes = [a, f"{a} {b}", f"{a} OR {b}", f'"{a} {b}"', f"{a[:4]}*", f"{a} -{b}", f"({a} OR {b}) {c}"]
        shapes += [f"{a} NEAR/4 {b}", f"title:{a} OR {b}", f"feed:wire {a}", f"{a[:3]}* OR {b}"]
        if not is_hangul(a):  # {word}: as written, in the case the text uses or in another
            shapes += [f"{{{a}}}", f"{{{a.lower()}}} OR {b}", f"{{{a.upper()}}} {b}", f"{{{a[:4]}*}} -{b}"]
        queries[i] = rnd.choice(shapes)
    index = WatchIndex()
    index.apply(queries.items())
    matched = 0
    for title, text in TEXTS:
        got = {int(m.topic.split(":")[1]): m.terms for m in index.match_index(index_text(title, text, "Wire"))}
        assert got == _brute_force(queries, title, text, "Wire"), title
        matched += len(got)
    assert matched > 50  # the comparison covers many matches, not only misses
    assert len(index) == 300


def test_add_and_remove_change_only_that_watch() -> None:
    index = WatchIndex()
    index.add(1, "rutte")
    index.add(2, "kursk*")
    idx = index_text(*TEXTS[1])
    assert [m.topic for m in index.match_index(idx)] == [watch_key(1), watch_key(2)]
    assert index.remove(2) and not index.remove(2)
    assert [m.topic for m in index.match_index(idx)] == [watch_key(1)]  # the cached candidates were dropped
    index.add(1, "weather")  # replaced under the same id
    assert index.match_index(idx) == []
    assert [m.topic for m in index.match_index(index_text(*TEXTS[5]))] == [watch_key(1)]


def test_forms_and_languages_match_like_topics() -> None:
    index = WatchIndex()
    index.apply([(1, "песков"), (2, "північнокорейський"), (3, "북한군"), (4, "troupe"), (5, "курск* OR koursk OR 쿠르스크")])
    hits = {i: {m.topic for m in index.match_index(index_text(t, x))} for i, (t, x) in enumerate(TEXTS)}
    assert hits[0] == {watch_key(1)}
    assert hits[2] == {watch_key(4), watch_key(5)}
    assert hits[3] == {watch_key(2)}
    assert hits[4] == {watch_key(3), watch_key(5)}


def test_storage_caps_scopes_and_tombstones(fresh_db: sqlite_utils.Database, tmp_path: object) -> None:
    start_subscriber(fresh_db, 10, None, "private", None, NOW)
    a = add_watch(fresh_db, 10, "kursk", "kursk", NOW, limit=2)
    b = add_watch(fresh_db, 10, None, "rutte", NOW, limit=2)
    assert a is not None and b is not None
    assert add_watch(fresh_db, 10, None, "peskov", NOW, limit=2) is None  # the cap
    assert add_watch(fresh_db, 11, None, "peskov", NOW, limit=2) is not None  # another chat's own cap
    assert find_watch(fresh_db, 10, "KURSK") == a and find_watch(fresh_db, 10, f"#{b.id}") == b
    assert find_watch(fresh_db, 11, str(a.id)) is None  # another chat cannot see it
    assert not remove_watch(fresh_db, 11, a.id)
    changes = WatchChanges(fresh_db.conn.execute("PRAGMA database_list").fetchone()[2])
    version, rows = changes.changes_since(0)
    assert [r[0] for r in rows] == [a.id, b.id, a.id + 2]
    assert remove_watch(fresh_db, 10, a.id)
    version2, rows2 = changes.changes_since(version)
    assert rows2 == [(a.id, None)] and version2 > version
    assert changes.changes_since(version2) == (version2, [])
    assert [w.id for w in list_watches(fresh_db, 10)] == [b.id]
    assert watch_totals(fresh_db) == (2, 2)
    assert delete_subscriber(fresh_db, 10)  # /stop removes the chat's watches too
    assert list_watches(fresh_db, 10) == [] and changes.changes_since(version2)[1] == [(b.id, None)]
    changes.close()


class _Ctx:
    def __init__(self, ctx: PollContext, feed: FeedConfig, feed_id: int) -> None:
        self.ctx, self.feed, self.feed_id = ctx, feed, feed_id


@pytest.fixture
async def polling(fresh_db: sqlite_utils.Database, server: FeedServer) -> AsyncIterator[_Ctx]:
    path = fresh_db.conn.execute("PRAGMA database_list").fetchone()[2]
    adb = AsyncDB(fresh_db)
    url = server.url("/f")
    feed = FeedConfig(name="Wire", kind="rss", source=url, url=url, interval_s=600)
    ids = await adb.run(sync_feeds, [feed])
    watches = WatchChanges(path)
    async with Fetcher(allow_private=True, timeout_s=2.0) as fetcher:
        parser = ParserPool(1, (Topic("rutte", "Rutte", "rutte"),), watches)
        yield _Ctx(PollContext(adb, fetcher, parser, page_pause_s=0.0), feed, ids[url])
        parser.close()
    watches.close()


def _deliveries(db: sqlite_utils.Database) -> list[tuple[int, int, str]]:
    return [tuple(r) for r in db.execute("SELECT chat_id, story_id, topic FROM deliveries ORDER BY id")]


async def test_a_watch_added_between_polls_applies_to_the_next_poll(
    polling: _Ctx, fresh_db: sqlite_utils.Database, server: FeedServer
) -> None:
    for chat in (1, 2):
        start_subscriber(fresh_db, chat, None, "private", None, NOW)
    subscribe(fresh_db, 2, ["rutte"])
    item1 = {"title": "Kursk: troops arrive", "link": "https://n.example/1", "guid": "1"}
    server.set("/f", body=rss([item1]))
    first = await poll_feed(polling.ctx, polling.feed, polling.feed_id)
    assert first.new_items == 1 and _deliveries(fresh_db) == []
    w = add_watch(fresh_db, 1, "kursk", "kursk OR курск", NOW, limit=20)
    w2 = add_watch(fresh_db, 2, None, "rutte kursk", NOW, limit=20)
    assert w is not None and w2 is not None
    item2 = {"title": "Rutte on Kursk", "link": "https://n.example/2", "guid": "2"}
    server.set("/f", body=rss([item2, item1]))
    second = await poll_feed(polling.ctx, polling.feed, polling.feed_id)
    assert [h.topic for h in second.hits] == ["rutte"]  # watch hits are the chat's, not the console's
    rows = _deliveries(fresh_db)
    # chat 1 gets the story through its watch; chat 2 follows the topic and has a watch hitting the
    # same story: one delivery
    assert sorted((r[0], r[2]) for r in rows) == [(1, watch_key(w.id)), (2, "rutte")]
    story = rows[0][1]
    counts = watch_story_counts(fresh_db, [w.id, w2.id], datetime(2000, 1, 1, tzinfo=UTC))
    assert counts == {w.id: 1, w2.id: 1}
    assert [s for s, _ in watch_hits(fresh_db, w.id, datetime(2000, 1, 1, tzinfo=UTC))] == [story]
    assert watch_labels(fresh_db, [watch_key(w.id), "rutte"]) == {watch_key(w.id): "🔎 kursk"}
    assert fresh_db.execute("SELECT count(*) FROM hits WHERE topic LIKE 'watch:%' AND reported_at IS NULL").fetchone()[0] == 0
    remove_watch(fresh_db, 1, w.id)  # its pending alert goes with it
    assert [r[0] for r in _deliveries(fresh_db)] == [2]
    server.set("/f", body=rss([{"title": "Kursk again", "link": "https://n.example/3", "guid": "3"}, item2, item1]))
    await poll_feed(polling.ctx, polling.feed, polling.feed_id)
    assert [r[0] for r in _deliveries(fresh_db)] == [2]  # the removed watch no longer matches


async def test_a_paused_chat_gets_no_watch_delivery_but_the_hit_counts(
    polling: _Ctx, fresh_db: sqlite_utils.Database, server: FeedServer
) -> None:
    start_subscriber(fresh_db, 1, None, "private", None, NOW)
    update_subscriber(fresh_db, 1, paused=1)
    w = add_watch(fresh_db, 1, None, "kursk", NOW, limit=20)
    assert w is not None
    server.set("/f", body=rss([{"title": "Kursk", "link": "https://n.example/1", "guid": "1"}]))
    await poll_feed(polling.ctx, polling.feed, polling.feed_id)
    assert _deliveries(fresh_db) == []
    assert watch_story_counts(fresh_db, [w.id], datetime(2000, 1, 1, tzinfo=UTC)) == {w.id: 1}  # still counted


async def test_worker_processes_follow_the_watches_table(fresh_db: sqlite_utils.Database) -> None:
    path = fresh_db.conn.execute("PRAGMA database_list").fetchone()[2]
    body = rss([{"title": "Rutte in Kursk", "link": "https://n.example/1", "guid": "1"}])
    w = add_watch(fresh_db, 1, None, "kursk", NOW, limit=20)
    assert w is not None
    async with ParserPool(2, (), WatchChanges(path)) as pool:
        first = await pool.parse("rss", body, {}, "http://127.0.0.1/f")
        remove_watch(fresh_db, 1, w.id)
        w2 = add_watch(fresh_db, 1, None, "rutte", NOW, limit=20)
        assert w2 is not None
        second = await pool.parse("rss", body, {}, "http://127.0.0.1/f")
    assert [m.topic for m in next(iter(first.matches.values()))] == [watch_key(w.id)]
    assert [m.topic for m in next(iter(second.matches.values()))] == [watch_key(w2.id)]


README_SAMPLES = {
    "English": "North Korean troops arrive in Russia's Kursk region",
    "French": "Les troupes nord-coréennes déployées près de Koursk",
    "Russian": "Пресс-секретарь Кремля отказался комментировать",
    "Ukrainian": "Бої на Курщині тривають",
    "Korean": "북한군 러시아 파병 공식 확인",
}


@pytest.mark.parametrize("language", sorted(README_SAMPLES))
def test_readme_watch_examples_are_valid_and_match_their_language(language: str) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    line = next(row for row in readme.splitlines() if row.startswith(f"| {language} | `/watch "))
    name, query = split_name(line.split("`")[1].removeprefix("/watch "))
    assert name and check_watch_query(query, WatchLimits()) is None
    index = WatchIndex()
    index.add(1, query)
    assert index.match_index(index_text(README_SAMPLES[language], "")), query


def test_a_group_that_becomes_a_supergroup_keeps_its_watches(fresh_db: sqlite_utils.Database) -> None:
    start_subscriber(fresh_db, -5, None, "group", "G", NOW)
    w = add_watch(fresh_db, -5, "kursk", "kursk", NOW, limit=20)
    assert w is not None
    migrate_chat(fresh_db, -5, -1005)
    assert list_watches(fresh_db, -5) == [] and [x.id for x in list_watches(fresh_db, -1005)] == [w.id]
