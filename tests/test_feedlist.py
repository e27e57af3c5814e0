"""feeds.yaml editing (round trip, validation, atomic write, lock), OPML, admin argument rules, health rules."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.admin import _source_of, format_duration, parse_addfeed_args
from bot.config import load_config
from bot.delivery.render import split_message, utf16_len
from bot.errors import CommandError, ConfigError
from bot.feedlist import edit_feeds_file, find_feed, write_atomic
from bot.health import Condition, HealthEvent, HealthPolicy, describe_condition, feed_condition, health_event
from bot.models import FeedConfig
from bot.opml import OpmlFeed, export_opml, parse_opml
from bot.sources.discover import find_feed_links
from storage.feeds import FeedState
from tests.conftest import ROOT

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def shipped(tmp_path: Path) -> Path:
    """A copy of the shipped feeds.yaml (comments, folded queries, quoted lists)."""
    path = tmp_path / "feeds.yaml"
    path.write_bytes((ROOT / "feeds.yaml").read_bytes())
    return path


def test_adding_a_feed_changes_nothing_but_the_new_lines(shipped: Path) -> None:
    before = shipped.read_text(encoding="utf-8")
    with edit_feeds_file(shipped) as edit:
        edit.doc.add_feed(url="https://example.org/feed.xml", name="Example", interval="15m")
    after = shipped.read_text(encoding="utf-8")
    assert after == before + "  - name: Example\n    url: https://example.org/feed.xml\n    interval: 15m\n"
    assert edit.after is not None and edit.after.feeds[-1].interval_s == 900


def test_removing_and_pausing_keep_every_other_comment(shipped: Path) -> None:
    comments = [line for line in shipped.read_text(encoding="utf-8").splitlines() if line.strip().startswith("#")]
    with edit_feeds_file(shipped) as edit:
        i = find_feed(edit.before.feeds, {}, "Meduza")
        edit.doc.remove_feed(i)
        edit.doc.set_enabled(find_feed(edit.before.feeds, {}, "NPR World"), False)
        edit.doc.remove_topic("rutte")
    text = shipped.read_text(encoding="utf-8")
    kept = [line for line in text.splitlines() if line.strip().startswith("#")]
    assert kept == comments  # every full-line comment stays, in order (delete a stale one by hand)
    assert "meduza.io/rss/all" not in text and "id: rutte" not in text
    config = load_config(shipped)
    assert next(f for f in config.feeds if f.name == "NPR World").enabled is False
    assert "meduzalive" in text  # the channel of the same name stays


SMALL = """feeds:
  # first
  - url: https://a.example/1
    interval: 5m   # fast
  # about b
  - url: https://b.example/2   # eol b
  - url: https://c.example/3

  # section
  - url: https://d.example/4
    name: D  # eol d
  # end
settings:
  interval: 10m
"""


@pytest.mark.parametrize("index", [0, 1, 2, 3])
def test_removing_any_entry_keeps_full_line_comments_and_drops_its_own(tmp_path: Path, index: int) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(SMALL, encoding="utf-8")
    with edit_feeds_file(path) as edit:
        edit.doc.remove_feed(index)
    text = path.read_text(encoding="utf-8")
    full_line = [line.strip() for line in text.splitlines() if line.strip().startswith("#")]
    assert full_line == ["# first", "# about b", "# section", "# end"]
    urls = ["https://a.example/1", "https://b.example/2", "https://c.example/3", "https://d.example/4"]
    assert [f.url for f in load_config(path).feeds] == urls[:index] + urls[index + 1 :]
    own_comment = ["# fast", "# eol b", None, "# eol d"][index]
    assert own_comment is None or own_comment not in text
    assert "\n\n\n" not in text


def test_a_change_that_would_break_the_file_is_not_written(shipped: Path) -> None:
    before = shipped.read_bytes()
    with pytest.raises(CommandError, match=r"would make feeds\.yaml invalid"), edit_feeds_file(shipped) as edit:
        edit.doc.add_topic("broken", "(peskov OR")
    assert shipped.read_bytes() == before
    assert [p.name for p in shipped.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_an_invalid_file_on_disk_is_not_touched(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text("feeds:\n  - name: A\n    url: ftp://x.example/feed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"feeds.yaml:3: feeds\[0\].url"), edit_feeds_file(path) as edit:
        edit.doc.add_feed(url="https://ok.example/feed")
    assert "ok.example" not in path.read_text(encoding="utf-8")


def test_write_atomic_keeps_mode_and_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real.yaml"
    real.write_text("old\n", encoding="utf-8")
    real.chmod(0o640)
    link = tmp_path / "feeds.yaml"
    link.symlink_to(real)
    write_atomic(link, "new\n")
    assert link.is_symlink() and real.read_text(encoding="utf-8") == "new\n"
    assert real.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feeds.yaml", "real.yaml"]


def test_concurrent_editors_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text("# list\nfeeds: []\n", encoding="utf-8")

    def add(prefix: str) -> None:
        for i in range(15):
            with edit_feeds_file(path) as edit:
                edit.doc.add_feed(url=f"https://{prefix}.example/{i}")

    threads = [threading.Thread(target=add, args=(p,)) for p in ("a", "b", "c")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(load_config(path).feeds) == 45
    assert path.read_text(encoding="utf-8").startswith("# list\n")


FEEDS = (
    FeedConfig("BBC News World", "rss", "https://bbc.example/rss", "https://bbc.example/rss", 600),
    FeedConfig("BBC Русская служба", "rss", "https://bbc.example/ru", "https://bbc.example/ru", 600),
    FeedConfig("@rian_ru", "telegram", "tg:rian_ru", "https://t.me/s/rian_ru", 300),
)
IDS = {"https://bbc.example/rss": 4, "https://bbc.example/ru": 7, "tg:rian_ru": 9}


@pytest.mark.parametrize(
    ("ref", "index"),
    [
        ("7", 1),
        ("#9", 2),
        ("bbc news world", 0),
        ("https://bbc.example/ru", 1),
        ("@rian_ru", 2),
        ("https://t.me/rian_ru", 2),
        ("bbc русская служба", 1),
    ],
)
def test_find_feed(ref: str, index: int) -> None:
    assert find_feed(FEEDS, IDS, ref) == index


def test_find_feed_refuses_two_feeds_of_the_same_name() -> None:
    twins = (*FEEDS, FeedConfig("BBC News World", "rss", "https://bbc2.example/", "https://bbc2.example/", 600))
    with pytest.raises(CommandError, match="names several feeds: BBC News World \\(#4\\), BBC News World \\(#\\?\\)"):
        find_feed(twins, IDS, "bbc news world")


def test_removing_the_last_entry_leaves_a_valid_file(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text("feeds:\n  # wires first\n  - name: Wire\n    url: https://w.example/\nsettings:\n  interval: 5m\n")
    with edit_feeds_file(path) as edit:
        edit.doc.remove_feed(0)
    assert load_config(path).feeds == () and load_config(path).interval_s == 300


@pytest.mark.parametrize(
    ("ref", "message"),
    [("BBC", "no feed is called"), ("3", "no feed number 3"), ("", "name a feed")],
)
def test_find_feed_refuses(ref: str, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        find_feed(FEEDS, IDS, ref)


def test_opml_round_trip_keeps_names_urls_and_channels() -> None:
    text = export_opml(FEEDS, NOW)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">')
    assert parse_opml(text) == [
        OpmlFeed("BBC News World", url="https://bbc.example/rss"),
        OpmlFeed("BBC Русская служба", url="https://bbc.example/ru"),
        OpmlFeed("@rian_ru", telegram="rian_ru"),
    ]


def test_opml_import_reads_nested_folders_and_skips_folders_themselves() -> None:
    text = """<?xml version="1.0"?>
<opml version="1.0"><head><title>My reader</title></head><body>
  <outline text="World">
    <outline text="Le Monde" type="rss" xmlUrl="https://www.lemonde.fr/international/rss_full.xml"/>
    <outline text="Deep"><outline title="Meduza" xmlurl="https://meduza.io/rss/all"/></outline>
  </outline>
  <outline text="Channel" xmlUrl="https://t.me/s/meduzalive"/>
</body></opml>"""
    assert parse_opml(text) == [
        OpmlFeed("Le Monde", url="https://www.lemonde.fr/international/rss_full.xml"),
        OpmlFeed("Meduza", url="https://meduza.io/rss/all"),
        OpmlFeed("Channel", telegram="meduzalive"),
    ]


@pytest.mark.parametrize(("text", "message"), [("<opml><body>", "not well-formed"), ("<rss/>", "not OPML")])
def test_opml_import_refuses_what_is_not_opml(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_opml(text, "x.opml")


def test_opml_entity_bomb_is_refused() -> None:
    bomb = '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8)
    )
    bomb += ']><opml><body><outline xmlUrl="https://x.example/&i;"/></body></opml>'
    with pytest.raises(ConfigError):
        parse_opml(bomb)


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["https://x.example/rss"], ("https://x.example/rss", "", "")),
        (["@rian_ru", "RIA", "Novosti", "15m"], ("@rian_ru", "RIA Novosti", "15m")),
        (["https://x.example/rss", "Channel", "4"], ("https://x.example/rss", "Channel 4", "")),
        (["https://x.example/rss", "2h"], ("https://x.example/rss", "", "2h")),
    ],
)
def test_parse_addfeed_args(words: list[str], expected: tuple[str, str, str]) -> None:
    assert parse_addfeed_args(words) == expected


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("https://x.example/rss", ("rss", "https://x.example/rss")),
        ("@rian_ru", ("telegram", "rian_ru")),
        ("t.me/rian_ru", ("telegram", "rian_ru")),
        ("https://t.me/s/rian_ru", ("telegram", "rian_ru")),
    ],
)
def test_source_of(word: str, expected: tuple[str, str]) -> None:
    assert _source_of(word) == expected


@pytest.mark.parametrize(
    ("word", "message"),
    [
        ("ftp://x.example/feed", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("javascript:alert(1)", "only http and https"),
        ("news", "neither a feed URL"),
        ("@ab", "not a public channel username"),
        ("http://[::1/feed", "not a valid URL"),
        ("https:///feed", "has no host name"),
    ],
)
def test_source_of_refuses(word: str, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        _source_of(word)


@pytest.mark.parametrize(("seconds", "text"), [(600, "10m"), (5400, "90m"), (86400, "1d"), (7200, "2h"), (45, "45s")])
def test_format_duration(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text


POLICY = HealthPolicy(alert_after=3, pause_after=timedelta(days=7), stale_after=timedelta(days=7))


@pytest.mark.parametrize(
    ("failed", "before", "count", "since_days", "event"),
    [
        (True, 0, 1, 0, None),
        (True, 1, 2, 0, None),
        (True, 2, 3, 0, HealthEvent.FAILING),
        (True, 3, 4, 1, None),  # told once, not on every failure after
        (False, 4, 0, None, HealthEvent.RECOVERED),
        (False, 2, 0, None, None),  # admins were never told, so no recovery notice
        (False, 0, 0, None, None),
        (True, 30, 31, 7, HealthEvent.PAUSE),
        (True, 30, 31, 6.9, None),
    ],
)
def test_health_event(failed: bool, before: int, count: int, since_days: float | None, event: HealthEvent | None) -> None:
    since = NOW - timedelta(days=since_days) if since_days is not None else None
    assert health_event(POLICY, failed, before, count, since, NOW) is event


def _state(**kw: object) -> FeedState:
    base: dict[str, object] = dict(
        id=1,
        source="s",
        name="n",
        url="u",
        etag=None,
        last_modified=None,
        body_hash=None,
        error_count=0,
        next_poll_at=None,
        last_new_item_at=NOW - timedelta(hours=1),
        paused_reason=None,
        last_polled_at=NOW,
    )
    return FeedState(**(base | kw))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("state", "enabled", "condition", "text"),
    [
        (_state(), True, Condition.OK, "✅ ok · last new item today 12:00"),
        (_state(), False, Condition.PAUSED, "⏸ paused by an admin"),
        (
            _state(paused_reason="failing since 1 Nov: HTTP 500"),
            True,
            Condition.PAUSED,
            "⏸ paused: failing since 1 Nov: HTTP 500",
        ),
        (
            _state(error_count=4, failing_since=NOW - timedelta(hours=3), last_error="fetcher: HTTP 503"),
            True,
            Condition.FAILING,
            "❌ failing since today 10:00 (4 failed polls in a row): fetcher: HTTP 503",
        ),
        (_state(last_new_item_at=NOW - timedelta(days=9)), True, Condition.STALE, "💤 stale: last new item 16 Nov 13:00"),
        (_state(last_new_item_at=None), True, Condition.STALE, "💤 stale: no item yet"),
        (_state(last_polled_at=None), True, Condition.NEW, "🕓 not polled yet"),
    ],
)
def test_feed_condition(state: FeedState, enabled: bool, condition: Condition, text: str) -> None:
    assert feed_condition(state, enabled, NOW, POLICY) is condition
    assert describe_condition(state, enabled, NOW, POLICY, ZoneInfo("Europe/Paris")) == text


def test_lock_file_sits_beside_the_config(shipped: Path) -> None:
    with edit_feeds_file(shipped) as edit:
        edit.doc.add_topic("zelensky", "zelensky OR зеленськ*")
    assert (shipped.parent / ".feeds.yaml.lock").exists()
    assert load_config(shipped).topics[-1].id == "zelensky"


@pytest.mark.parametrize(("value", "seconds"), [(None, 2 * 86400), ("off", None), ("3d", 3 * 86400), ("12h", 12 * 3600)])
def test_max_age_setting(tmp_path: Path, value: str | None, seconds: int | None) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text("settings:\n  timezone: UTC\n" + (f"  max_age: {value}\n" if value else ""), encoding="utf-8")
    assert load_config(path).max_age_s == seconds


def test_split_message_keeps_blocks_whole_and_under_the_limit() -> None:
    blocks = [f'<b>#{i} Feed {i}</b>\n<a href="https://x.example/{i}">Заголовок 🇺🇦 {i}</a>' for i in range(300)]
    messages = split_message(blocks)
    assert len(messages) > 1 and all(utf16_len(m) <= 4096 for m in messages)
    assert "\n".join(messages) == "\n".join(blocks)


def test_split_message_sends_an_oversized_block_as_plain_text() -> None:
    huge = "<code>" + "peskov OR " * 1000 + "</code>"
    [message] = split_message(["<b>head</b>", huge])
    assert utf16_len(message) <= 4096 and message.startswith("<b>head</b>\npeskov OR peskov")
    assert "<code>" not in message and message.endswith("…")


PAGE = b"""<!doctype html><html><head><title>Le Monde</title>
<link rel="stylesheet" href="/style.css">
<link rel="alternate" hreflang="en" href="https://www.lemonde.fr/en/">
<link rel="alternate" type="application/rss+xml" title="International" href="/international/rss_full.xml">
<link rel="Alternate" type="application/atom+xml; charset=utf-8" href="https://www.lemonde.fr/atom.xml">
<link rel="alternate" type="application/rss+xml" href="/international/rss_full.xml">
<link rel="alternate" type="application/feed+json" href="//cdn.lemonde.fr/feed.json">
<link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">
</head><body><a rel="alternate" type="application/rss+xml" href="/not-a-link-tag.xml">x</a></body></html>"""


def test_find_feed_links_in_a_page() -> None:
    assert find_feed_links(PAGE, "https://www.lemonde.fr/international/") == [
        "https://www.lemonde.fr/international/rss_full.xml",
        "https://www.lemonde.fr/atom.xml",
        "https://cdn.lemonde.fr/feed.json",
    ]


@pytest.mark.parametrize("body", [b"", b"<html><head><link rel=alternate href=/x></head></html>", b"\xff\xfe garbage"])
def test_find_feed_links_finds_nothing_where_there_is_nothing(body: bytes) -> None:
    assert find_feed_links(body, "https://x.example/") == []
