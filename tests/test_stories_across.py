"""Stories joined across languages in the store (bot.crosslang through storage.items.save_poll), on
real reports from the labelled story sets; and the parse workers handing an item's anchors over."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlite_utils

from bot import crosslang
from bot.clustering import StoryRules, encode_terms, item_language, item_terms
from bot.config import load_config
from bot.models import FeedConfig, Item, Match, Topic
from bot.pipeline import PollContext, poll_feed
from bot.sources.fetcher import Fetcher
from bot.sources.parsing import ParserPool
from storage.db import AsyncDB
from storage.feeds import sync_feeds
from storage.items import NewItem, PollUpdate, save_poll
from tests import storyeval
from tests.conftest import ROOT
from tests.feedserver import FeedServer, rss

NOW = datetime(2024, 10, 1, 12, tzinfo=UTC)
RUTTE = next(t for t in load_config(ROOT / "feeds.yaml").topics if t.id == "rutte")
NEWS = Topic("news", "News", "bbc OR trump OR 개인정보")  # matches both reports of the different events below
TOPICS = (RUTTE, NEWS)
RULES = StoryRules(TOPICS)
ALIASES = crosslang.alias_groups(t.query for t in TOPICS)
REPORTS = {
    r.item_id: r
    for path in (storyeval.PAGES, storyeval.HEADLINE_DAY)
    for r in storyeval.load_reports(path)
    if r.item_id in {"pg-0009", "pg-0010", "en25-0058", "ko25-0211"}
}


def entry(item_id: str, topic: str) -> NewItem:
    """A labelled report as the parse workers hand it over (terms, language and anchors)."""
    r = REPORTS[item_id]
    item = Item(item_id, r.url, r.title, r.lead)
    lang = item_language(r.title, r.lead)
    anchors = crosslang.encode_anchors(crosslang.anchors(r.title, r.lead, lang, ALIASES))
    return NewItem(item, [Match(topic, (topic,))], encode_terms(item_terms(r.title, r.lead)), lang, anchors)


@pytest.fixture
def feeds(fresh_db: sqlite_utils.Database) -> list[int]:
    configs = [FeedConfig(f"F{i}", "rss", f"https://f{i}.example/rss", f"https://f{i}.example/rss", 600) for i in range(2)]
    ids = sync_feeds(fresh_db, configs)
    return [ids[c.url] for c in configs]


def save(db: sqlite_utils.Database, feed_id: int, e: NewItem, at: datetime = NOW) -> int:
    save_poll(db, feed_id, PollUpdate(200, None, None, None, at), [e], at, RULES)
    return int(db.execute("SELECT story_id FROM items WHERE feed_id = ? AND key = ?", [feed_id, e.item.key]).fetchone()[0])


def test_a_korean_and_an_english_report_of_one_event_are_one_story(fresh_db: sqlite_utils.Database, feeds: list[int]) -> None:
    """Rutte takes office at NATO: news.az in English, information.bz in Korean (마크 뤼테(Mark Rutte))."""
    english, korean = entry("pg-0010", "rutte"), entry("pg-0009", "rutte")
    assert (english.lang, korean.lang) == ("en", "ko")
    story = save(fresh_db, feeds[0], english)
    assert save(fresh_db, feeds[1], korean, NOW + timedelta(hours=20)) == story
    assert fresh_db.execute("SELECT count(*) FROM hits").fetchone()[0] == 1  # one alert
    anchors = fresh_db.execute("SELECT anchors FROM stories WHERE id = ?", [story]).fetchone()[0].split()
    assert {"@mrk", "@nato"} <= set(anchors)


def test_reports_in_two_languages_sharing_one_number_stay_apart(fresh_db: sqlite_utils.Database, feeds: list[int]) -> None:
    """Trump sues the BBC (en) and a personal data leak (ko) both say 10, the same day."""
    english, korean = entry("en25-0058", "news"), entry("ko25-0211", "news")
    assert set(english.anchors.split()) & set(korean.anchors.split()) == {"#10"}
    assert save(fresh_db, feeds[0], english) != save(fresh_db, feeds[1], korean)


def test_an_item_of_a_personal_watch_is_not_joined_across_languages(fresh_db: sqlite_utils.Database, feeds: list[int]) -> None:
    """A watch's own query is not known to the clustering rules, so its names could count as evidence."""
    english, korean = entry("pg-0010", "watch:7"), entry("pg-0009", "watch:7")
    assert save(fresh_db, feeds[0], english) != save(fresh_db, feeds[1], korean)


def test_a_story_out_of_the_window_is_not_joined(fresh_db: sqlite_utils.Database, feeds: list[int]) -> None:
    story = save(fresh_db, feeds[0], entry("pg-0010", "rutte"))
    assert save(fresh_db, feeds[1], entry("pg-0009", "rutte"), NOW + timedelta(hours=49)) != story


@pytest.fixture
async def ctx(fresh_db: sqlite_utils.Database) -> AsyncIterator[PollContext]:
    async with Fetcher(allow_private=True, timeout_s=1.0) as fetcher:
        parser = ParserPool(workers=1, topics=(RUTTE,))
        yield PollContext(AsyncDB(fresh_db), fetcher, parser, page_pause_s=0.0)
        parser.close()


async def test_polled_reports_in_two_languages_make_one_story_and_one_alert(ctx: PollContext, server: FeedServer) -> None:
    outcomes = []
    for n, item_id in enumerate(("pg-0010", "pg-0009")):
        r = REPORTS[item_id]
        url = server.set(f"/f{n}", body=rss([{"title": r.title, "guid": item_id, "link": r.url, "description": r.lead}]))
        feed = FeedConfig(f"F{n}", "rss", url, url, 600)
        fid = (await ctx.db.run(sync_feeds, [feed]))[url]
        outcomes.append(await poll_feed(ctx, feed, fid))
    assert [h.topic for h in outcomes[0].hits] == ["rutte"] and outcomes[1].hits == []
    rows = await ctx.db.run(lambda db: db.execute("SELECT story_id FROM items").fetchall())
    assert len({r[0] for r in rows}) == 1
