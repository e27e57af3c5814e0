"""Stories in the store: URL and forward ties, event clustering, changed items matched again.

Real SQLite files, the real feed server and parser; items are real reports where the point is the
wording (sources named beside them)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils

from bot.clustering import StoryRules, encode_terms, item_language, item_terms
from bot.models import FeedConfig, Item, Match, Topic
from bot.pipeline import PollContext, poll_feed
from bot.sources.fetcher import Fetcher
from bot.sources.parsing import ParserPool
from bot.stories import story_url
from storage.db import AsyncDB, open_database
from storage.feeds import sync_feeds
from storage.items import NewItem, PollUpdate, save_poll
from storage.stories import DocumentFrequencies
from tests.feedserver import FeedServer, rss

NOW = datetime(2025, 11, 28, 12, tzinfo=UTC)
TOPICS = (Topic("war", "War", "украин* OR войск*"), Topic("rutte", "Rutte", "rutte OR рютте"))
RULES = StoryRules(TOPICS)


def entry(item: Item, *topics: str) -> NewItem:
    """An item as the parse workers hand it over."""
    matches = [Match(t, (t,)) for t in topics]
    return NewItem(item, matches, encode_terms(item_terms(item.title, item.text)), item_language(item.title, item.text))


@pytest.fixture
def feeds(fresh_db: sqlite_utils.Database) -> list[int]:
    configs = [FeedConfig(f"F{i}", "rss", f"https://f{i}.example/rss", f"https://f{i}.example/rss", 600) for i in range(4)]
    ids = sync_feeds(fresh_db, configs)
    return [ids[c.url] for c in configs]


def save(db: sqlite_utils.Database, feed_id: int, *entries: NewItem, at: datetime = NOW) -> list[int]:
    hits = save_poll(db, feed_id, PollUpdate(200, None, None, None, at), list(entries), at, RULES)
    return [h.story_id for h in hits]


def story_of(db: sqlite_utils.Database, feed_id: int, key: str) -> int | None:
    row = db.execute("SELECT story_id FROM items WHERE feed_id = ? AND key = ?", [feed_id, key]).fetchone()
    return None if row[0] is None else int(row[0])


def test_a_site_home_page_link_ties_no_items(fresh_db: sqlite_utils.Database, feeds: list[int]) -> None:
    assert story_url("https://meduza.io/") is None and story_url("https://meduza.io/news/1") == "https://meduza.io/news/1"
    a = Item("1", "https://meduza.io/", "Умер модельер Джорджо Армани", "Ему был 91 год.")
    b = Item("2", "https://meduza.io/", "Apple показала новый смартфон iPhone Air", "Самый тонкий iPhone.")
    save(fresh_db, feeds[0], entry(a, "war"), entry(b, "war"))
    assert story_of(fresh_db, feeds[0], "1") != story_of(fresh_db, feeds[0], "2")


def test_an_item_that_matched_nothing_opens_no_story_until_something_needs_one(
    fresh_db: sqlite_utils.Database, feeds: list[int]
) -> None:
    save(fresh_db, feeds[0], entry(Item("1", "https://a.example/news/1", "Рютте в Киеве", "")))  # no topic matched
    assert story_of(fresh_db, feeds[0], "1") is None
    assert fresh_db.execute("SELECT count(*) FROM stories").fetchone()[0] == 0
    hits = save(fresh_db, feeds[1], entry(Item("2", "https://a.example/news/1", "Рютте в Киеве", "Визит"), "rutte"))
    assert len(hits) == 1 and story_of(fresh_db, feeds[1], "2") == hits[0]  # a copy that matched opens it
    save(fresh_db, feeds[2], entry(Item("3", "https://a.example/news/1", "Rutte in Kyiv", "")))
    assert story_of(fresh_db, feeds[2], "3") == hits[0]  # a later copy joins it, matched or not
    n_items, n_feeds = fresh_db.execute("SELECT n_items, n_feeds FROM stories").fetchone()
    assert (n_items, n_feeds) == (2, 2)


def test_a_storyless_item_that_matches_after_a_change_joins_the_story_of_its_stored_copy(
    fresh_db: sqlite_utils.Database, feeds: list[int]
) -> None:
    url = "https://a.example/news/7"
    save(fresh_db, feeds[0], entry(Item("1", url, "Visit to Kyiv", "")))  # matched nothing: no story
    hits = save(fresh_db, feeds[1], entry(Item("2", url, "Рютте в Киеве", "Визит генсека НАТО"), "rutte"))
    changed = Item("1", url, "Rutte in Kyiv", "The NATO chief arrived by train")  # another language: no cluster
    again = save(fresh_db, feeds[0], replace(entry(changed, "rutte"), changed=True))
    assert again == [] and story_of(fresh_db, feeds[0], "1") == hits[0]  # one article, one story, one alert
    assert fresh_db.execute("SELECT count(*) FROM stories").fetchone()[0] == 1
    assert fresh_db.execute("SELECT n_items, n_feeds FROM stories").fetchone() == (2, 2)


def test_a_short_headline_does_not_join_a_long_lead_that_contains_its_words(
    fresh_db: sqlite_utils.Database, feeds: list[int]
) -> None:
    # Both from Russian-language outlets' feeds (the merge seen there: one alert never went out).
    long = Item(
        "1",
        "https://a.example/1",
        "Вся Константиновка в серой зоне",
        "Российские войска продвигаются в Донецкой области Украины; удары по трём областям, по данным "
        "аналитиков, затронули АЗС и энергетику, а город Константиновка оказался почти полностью в серой зоне.",
    )
    short = Item("2", "https://b.example/2", "Российские войска ударили по АЗС в трёх областях Украины", "")
    first = save(fresh_db, feeds[0], entry(long, "war"))
    second = save(fresh_db, feeds[1], entry(short, "war"))
    assert len(first) == 1 and len(second) == 1 and first != second


def test_daily_digests_of_one_outlet_stay_apart(fresh_db: sqlite_utils.Database, feeds: list[int]) -> None:
    day1 = Item(
        "d1", "https://h.example/d/1", "Главное к утру: Рютте, удары по Украине и переговоры", "Коротко о главном за ночь."
    )
    day2 = Item("d2", "https://h.example/d/2", "Главное к утру: удары по Украине, Рютте и санкции", "Коротко о главном за ночь.")
    save(fresh_db, feeds[0], entry(day1, "war", "rutte"))
    save(fresh_db, feeds[0], entry(day2, "war", "rutte"), at=NOW + timedelta(days=1))
    assert story_of(fresh_db, feeds[0], "d1") != story_of(fresh_db, feeds[0], "d2")


def test_rewrites_by_other_outlets_join_one_story_with_one_hit(fresh_db: sqlite_utils.Database, feeds: list[int]) -> None:
    # Three outlets' own wording of one statement (en-2020-05-27 Pompeo on Hong Kong, events.tsv).
    reports = [
        ("Pompeo says Hong Kong is no longer autonomous from China, jeopardizing billions in trade", "cnn"),
        ("Hong Kong is no longer autonomous from China, Pompeo says", "smh"),
        ("Pompeo Says Hong Kong No Longer Has Autonomy Under China", "nytimes"),
    ]
    topics = (Topic("hk", "Hong Kong", '"hong kong"'),)
    rules = StoryRules(topics)
    stories = set()
    for i, (title, outlet) in enumerate(reports):
        item = Item(str(i), f"https://{outlet}.example/{i}", title, "")
        e = NewItem(item, [Match("hk", ('"hong kong"',))], encode_terms(item_terms(title, "")), "en")
        save_poll(fresh_db, feeds[i], PollUpdate(200, None, None, None, NOW), [e], NOW, rules)
        stories.add(story_of(fresh_db, feeds[i], str(i)))
    assert len(stories) == 1
    assert fresh_db.execute("SELECT count(*) FROM hits").fetchone()[0] == 1
    assert fresh_db.execute("SELECT n_items, n_feeds FROM stories WHERE id = ?", [stories.pop()]).fetchone() == (3, 3)


def test_a_forwarded_post_joins_the_story_of_the_post_it_forwards(fresh_db: sqlite_utils.Database, feeds: list[int]) -> None:
    original = Item("chan_a/10", "https://t.me/chan_a/10", "Рютте прибыл в Киев", "Генсек НАТО Марк Рютте прибыл в Киев.")
    forward = Item(
        "chan_b/77",
        "https://t.me/chan_b/77",
        "Срочно",
        "Внимание!",
        extra={"forwarded_from": "A", "forwarded_from_url": "https://t.me/chan_a/10"},
    )
    linking = Item(
        "chan_c/5", "https://t.me/chan_c/5", "Подробности", "Читайте", extra={"links": ["https://t.me/chan_a/10?single"]}
    )
    first = save(fresh_db, feeds[0], entry(original, "rutte"))
    again = save(fresh_db, feeds[1], entry(forward, "rutte")) + save(fresh_db, feeds[2], entry(linking, "rutte"))
    assert len(first) == 1 and again == []  # no second hit: one story
    assert story_of(fresh_db, feeds[1], "chan_b/77") == story_of(fresh_db, feeds[2], "chan_c/5") == first[0]


def test_stories_rows_exist_only_with_their_items(fresh_db: sqlite_utils.Database, feeds: list[int]) -> None:
    item = Item("1", "https://a.example/1", "Рютте в Киеве", "")
    save(fresh_db, feeds[0], entry(item, "rutte"))
    save(fresh_db, feeds[0], entry(item, "rutte"))  # a second process that stored it meanwhile
    orphans = fresh_db.execute("SELECT count(*) FROM stories WHERE id NOT IN (SELECT story_id FROM items)").fetchone()[0]
    assert orphans == 0


@pytest.fixture
async def ctx(fresh_db: sqlite_utils.Database) -> AsyncIterator[PollContext]:
    async with Fetcher(allow_private=True, timeout_s=1.0) as fetcher:
        parser = ParserPool(workers=1, topics=(Topic("rutte", "Rutte", "rutte OR рютте"),))
        yield PollContext(AsyncDB(fresh_db), fetcher, parser, page_pause_s=0.0)
        parser.close()


async def test_an_item_whose_text_changes_is_matched_again_once(ctx: PollContext, server: FeedServer) -> None:
    first = {"title": "Заявление НАТО", "guid": "g1", "link": "https://n.example/1", "description": ""}
    later = {**first, "description": "Генеральный секретарь НАТО Марк Рютте заявил о поддержке Украины."}
    url = server.set("/f", body=rss([first]))
    feed = FeedConfig("N", "rss", url, url, 600)
    fid = (await ctx.db.run(sync_feeds, [feed]))[url]
    assert (await poll_feed(ctx, feed, fid)).hits == []
    server.set("/f", body=rss([later]))
    outcome = await poll_feed(ctx, feed, fid)
    assert [h.topic for h in outcome.hits] == ["rutte"] and outcome.new_items == 0
    server.set("/f", body=rss([{**later, "description": later["description"] + " Обновлено."}]))
    assert (await poll_feed(ctx, feed, fid)).hits == []  # still one alert per story and topic
    text = await ctx.db.run(lambda db: db.execute("SELECT text FROM items").fetchone()[0])
    assert text.endswith("Обновлено.")


def test_candidate_stories_are_read_through_the_recency_index(fresh_db: sqlite_utils.Database) -> None:
    plan = fresh_db.execute(
        "EXPLAIN QUERY PLAN SELECT s.id FROM stories s WHERE s.last_seen_at >= ? AND coalesce(s.lang, '') = ?"
        " AND EXISTS(SELECT 1 FROM hits h WHERE h.story_id = s.id AND h.topic IN (?)) ORDER BY s.last_seen_at DESC LIMIT 100",
        ["2025-01-01", "ru", "war"],
    ).fetchall()
    details = " ".join(str(row[-1]) for row in plan)
    assert "stories_last_seen" in details and "SCAN s" not in details.replace("USING INDEX", "")


def test_a_poll_finds_the_stories_of_stored_copies_in_one_query_as_item_by_item(
    fresh_db: sqlite_utils.Database, feeds: list[int]
) -> None:
    """Copies stored before, a copy stored earlier in the same poll, items of no story: each item gets
    the story one lookup of its URL would give, the items keep their order, and no item asks alone."""
    first = Item("a", "https://n.example/war/1", "Войска отошли от Курска", "")
    save(fresh_db, feeds[0], entry(first, "war"))
    known = story_of(fresh_db, feeds[0], "a")
    statements: list[str] = []
    fresh_db.conn.set_trace_callback(statements.append)
    save(
        fresh_db,
        feeds[1],
        entry(Item("p1", "https://n.example/plain/1", "Погода на выходные", "")),
        entry(Item("c1", "https://www.n.example/war/1/?utm_source=x", "Курск: войска отошли", "")),  # a copy of "a"
        entry(Item("r1", "https://n.example/rutte/1", "Rutte visits Kyiv", ""), "rutte"),
        entry(Item("p2", "https://n.example/plain/2", "Курс рубля", "")),
        entry(Item("c2", "https://n.example/rutte/1", "Rutte in Kyiv", "")),  # a copy of "r1", stored just before
    )
    fresh_db.conn.set_trace_callback(None)
    stories = {k: story_of(fresh_db, feeds[1], k) for k in ("p1", "c1", "r1", "p2", "c2")}
    assert stories["c1"] == known and stories["c2"] == stories["r1"] is not None
    assert stories["p1"] is None and stories["p2"] is None
    keys = [r[0] for r in fresh_db.execute("SELECT key FROM items WHERE feed_id = ? ORDER BY id", [feeds[1]])]
    assert keys == ["p1", "c1", "r1", "p2", "c2"]
    assert not [s for s in statements if "canonical_url = " in s]
    assert len([s for s in statements if "canonical_url IN" in s]) == 1


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.meduza.io/", None),
        ("http://meduza.io:8080", None),
        ("https://meduza.io/?id=5&utm_source=x", "https://meduza.io/?id=5"),
        ("https://meduza.io/news/1/", "https://meduza.io/news/1"),
        ("https://t.me/s/rian_ru/5?single", "https://t.me/rian_ru/5"),
        ("https://t.me/rian_ru", None),
        ("https://telegram.me/rian_ru/7", "https://t.me/rian_ru/7"),
        ("https://not-t.me/x", "https://not-t.me/x"),
    ],
)
def test_a_story_url_names_one_article_or_none(url: str, expected: str | None) -> None:
    assert story_url(url) == expected


def test_document_frequencies_are_kept_until_another_connection_commits_or_a_write_rolls_back(
    fresh_db: sqlite_utils.Database, tmp_path: Path
) -> None:
    """A poll reads no frequency an earlier poll of the same connection read, and never a stale one."""

    def count(db: sqlite_utils.Database, *terms: str) -> None:
        with db.conn:
            df = DocumentFrequencies.kept(db)
            df.add(terms)
            df.save()

    count(fresh_db, "rutte", "nato")
    kept = DocumentFrequencies.kept(fresh_db)
    assert kept.idf("rutte") == DocumentFrequencies(fresh_db).idf("rutte")
    count(fresh_db, "rutte")
    assert DocumentFrequencies.kept(fresh_db) is kept  # the same connection's commits keep it true
    assert kept.idf("rutte") == DocumentFrequencies(fresh_db).idf("rutte")

    other = open_database(tmp_path / "test.db")  # another process's connection counts an item
    count(other, "rutte")
    other.close()
    fresh = DocumentFrequencies.kept(fresh_db)
    assert fresh is not kept and (fresh.n_docs, fresh.idf("rutte")) == (3, DocumentFrequencies(fresh_db).idf("rutte"))

    with pytest.raises(RuntimeError), fresh_db.conn:  # a poll whose write fails after counting
        DocumentFrequencies.kept(fresh_db).add(["nato"])
        DocumentFrequencies.kept(fresh_db).save()
        raise RuntimeError("disk went away")
    after = DocumentFrequencies.kept(fresh_db)
    assert after is not fresh and after.n_docs == 3 and after.idf("nato") == DocumentFrequencies(fresh_db).idf("nato")
