"""Hostile or broken feeds.yaml files: every reader refuses them with one line naming file:line, fast.

The CLI runs as a real process (`python -m bot check|once|run|feeds`), the hot reload through the
real LiveConfig watcher on a real file, admin edits through `edit_feeds_file` on a real file.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.config import Settings, load_config
from bot.config_values import check_feed_url, parse_duration
from bot.config_yaml import MAX_ALIAS_VALUES
from bot.errors import ConfigError, QueryError
from bot.feedlist import edit_feeds_file
from bot.live import LiveConfig
from bot.matching.query import parse_query
from bot.runtime import open_runtime
from bot.subscribers import Catalog
from tests.test_cli import run_cli

TOPICS = "topics:\n  - id: rutte\n    query: rutte OR рютте\n"


def feeds_yaml(*urls: str, settings: str = "", comment: str = "# my feeds") -> str:
    """A small valid feeds.yaml (one topic, these feeds), with optional settings lines."""
    lines = [comment, *(["settings:", settings] if settings else []), TOPICS.rstrip("\n"), "feeds:"]
    lines += [f"  - url: {u}" for u in urls]
    return "\n".join(lines) + "\n"


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """`&a0 [lol, ...]`, then each level a list of `width` aliases of the one before (width**levels values)."""
    lines = ["a0: &a0 [" + ", ".join(["lol"] * width) + "]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n" + TOPICS + "feeds:\n  - url: https://a.example/rss\n"


def assert_refused(out_stderr: str, returncode: int, where: str, expected: str) -> None:
    """Exit code 1, one line on stderr naming file:line and the problem, no traceback."""
    assert returncode == 1, out_stderr
    assert "Traceback" not in out_stderr
    lines = out_stderr.strip().splitlines()
    assert len(lines) == 1, out_stderr
    assert lines[0].startswith(f"error: {where} "), lines[0]
    assert expected in lines[0]


def check(tmp_path: Path, content: str | bytes, *command: str) -> tuple[str, int, float]:
    cfg = tmp_path / "feeds.yaml"
    if isinstance(content, str):
        cfg.write_text(content, encoding="utf-8")
    else:
        cfg.write_bytes(content)
    started = time.monotonic()
    out = run_cli(*(command or ("check",)), "--config", str(cfg), "--db", str(tmp_path / "nw.db"), timeout=60)
    return out.stderr, out.returncode, time.monotonic() - started


# 1. Not UTF-8: one rule for every reader.


def latin1_comment(text: str) -> bytes:
    """UTF-8 text whose é became one Latin-1 byte (0xE9), as an editor set to Latin-1 would save it."""
    return text.encode("utf-8").replace("é".encode(), b"\xe9")


LATIN1 = latin1_comment(feeds_yaml("https://a.example/rss", comment="# café feeds"))


@pytest.mark.parametrize("command", [("check",), ("once",), ("run",), ("feeds", "list")])
def test_a_file_that_is_not_utf8_is_refused_by_every_command(tmp_path: Path, command: tuple[str, ...]) -> None:
    stderr, code, _ = check(tmp_path, LATIN1, *command)
    assert_refused(stderr, code, "feeds.yaml:1:", "not UTF-8 (byte 0xE9 at column 6)")


def test_an_edit_refuses_a_file_that_is_not_utf8_and_leaves_it_alone(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_bytes(b"# ok\n" + LATIN1)
    with pytest.raises(ConfigError, match=r"^feeds.yaml:2: not UTF-8 \(byte 0xE9 at column 6\)"), edit_feeds_file(path) as e:
        e.doc.add_feed(url="https://b.example/rss")
    assert path.read_bytes() == b"# ok\n" + LATIN1


async def test_the_running_bot_refuses_what_check_refuses(settings: Settings) -> None:
    """Not UTF-8, then an alias bomb, reach the watcher: neither is applied; a good file then is."""
    path = settings.config_path
    path.write_text(feeds_yaml("https://a.example/rss"), encoding="utf-8")
    notices: list[str] = []

    async def notify(text: str) -> None:
        notices.append(text)

    async with open_runtime(settings, load_config(path)) as rt:
        live = LiveConfig(rt, Catalog(rt.config.topics), notify, console=True)
        stop = asyncio.Event()
        watcher = asyncio.create_task(live.watch(stop, every_s=0.05))
        path.write_bytes(latin1_comment(feeds_yaml("https://a.example/rss", "https://b.example/rss", comment="# café")))
        await until(lambda: len(notices) == 1)
        assert notices[0].startswith("<b>feeds.yaml was not applied</b>: feeds.yaml:1: not UTF-8 (byte 0xE9 at column 6)")
        assert [f.url for f in live.config.feeds] == ["https://a.example/rss"]
        started = time.monotonic()
        path.write_text(alias_bomb(), encoding="utf-8")
        await until(lambda: len(notices) == 2)
        assert time.monotonic() - started < 10  # was minutes and gigabytes
        assert f"feeds.yaml:5: the aliases repeat more than {MAX_ALIAS_VALUES} values" in notices[1]
        path.write_text(feeds_yaml("https://a.example/rss", "https://b.example/rss", comment="# café"), encoding="utf-8")
        await until(lambda: len(notices) == 3)
        assert notices[2] == "feeds.yaml is valid again and now applied."
        assert [f.url for f in live.config.feeds] == ["https://a.example/rss", "https://b.example/rss"]
        stop.set()
        await watcher


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


# 2. Bounded parsing: aliases, nesting, queries.


def query_yaml(query: str) -> str:
    return f"topics:\n  - id: deep\n    query: '{query}'\nfeeds:\n  - url: https://a.example/rss\n"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (alias_bomb(), f"feeds.yaml:5: the aliases repeat more than {MAX_ALIAS_VALUES} values (at *a3)"),
        ("topics: " + "[" * 20_000 + "\n", "feeds.yaml:1: nested more than 20 levels deep"),
        ("a: &x [1, *x]\n" + TOPICS, "feeds.yaml:1: the alias *x is inside the collection it names"),
        (
            query_yaml("(" * 300 + "rutte" + ")" * 300),
            "feeds.yaml:3: topics[0].query: query: too deeply nested (more than 50 levels)",
        ),
        (query_yaml("rutte " + "NOT " * 400 + "peskov"), "feeds.yaml:3: topics[0].query: query: too deeply nested"),
        (
            query_yaml("rutte " + "NOT " * 1000 + "peskov"),
            "feeds.yaml:3: topics[0].query: query: the query is 4012 characters long",
        ),
    ],
    ids=["alias-bomb", "deep-flow", "alias-loop", "parentheses", "nots", "long"],
)
def test_hostile_yaml_and_queries_end_fast_with_one_line(tmp_path: Path, content: str, expected: str) -> None:
    stderr, code, seconds = check(tmp_path, content)
    assert_refused(stderr, code, expected.split(" ", 1)[0], expected.split(" ", 1)[1])
    assert seconds < 30  # the process with its imports; the config itself takes milliseconds


def test_anchors_within_the_budget_still_work(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    feeds = "".join(f"  - <<: *base\n    url: https://x.example/{i}\n" for i in range(1, 500))
    base = "  - &base\n    url: https://x.example/0\n    interval: 1h\n"
    path.write_text(f"{TOPICS}feeds:\n{base}{feeds}", encoding="utf-8")
    config = load_config(path)
    assert len(config.feeds) == 500 and {f.interval_s for f in config.feeds} == {3600}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("(" * 51 + "a" + ")" * 51, "too deeply nested (more than 50 levels) at position 51"),
        ("a " + "- " * 51 + "b", "too deeply nested (more than 50 levels) at position 103"),
        ("a " * 2001, "the query is 4002 characters long; the most is 4000"),
    ],
)
def test_query_bounds(query: str, message: str) -> None:
    with pytest.raises(QueryError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_query(query)


def test_query_nesting_up_to_the_bound_parses() -> None:
    assert parse_query("(" * 50 + "rutte" + ")" * 50) is not None
    assert parse_query("rutte " + "NOT " * 49 + "peskov") is not None


# 3. Durations have bounds.


@pytest.mark.parametrize(
    ("settings", "feed_interval", "expected"),
    [
        ("  interval: .inf", "", "feeds.yaml:3: settings.interval: inf is longer than 7d (allowed: 1s to 7d)"),
        ("  interval: 1e300", "", "feeds.yaml:3: settings.interval: 1e+300 is longer than 7d"),
        ("", "99999999999d", "feeds.yaml:7: feeds[0].interval: '99999999999d' is longer than 7d"),
        ("  pause_after: 1e300", "", "feeds.yaml:3: settings.pause_after: 1e+300 is longer than 365d (allowed: 1h to 365d)"),
        ("  max_age: .inf", "", "feeds.yaml:3: settings.max_age: inf is longer than 365d"),
        ("  max_age: .nan", "", "feeds.yaml:3: settings.max_age: nan is not a duration"),
        ("  stale_days: 99999", "", "feeds.yaml:3: settings.stale_days: Input should be less than or equal to 365"),
    ],
)
def test_out_of_range_durations_are_refused_with_their_line(
    tmp_path: Path, settings: str, feed_interval: str, expected: str
) -> None:
    text = feeds_yaml("https://a.example/rss", settings=settings) if settings else feeds_yaml("https://a.example/rss")
    if feed_interval:
        text += f"    interval: {feed_interval}\n"
    stderr, code, _ = check(tmp_path, text)
    assert_refused(stderr, code, expected.split(" ", 1)[0], expected.split(" ", 1)[1])


def test_once_refuses_an_endless_interval_instead_of_crashing(tmp_path: Path) -> None:
    stderr, code, _ = check(tmp_path, feeds_yaml("https://a.example/rss") + "    interval: 1e300\n", "once")
    assert_refused(stderr, code, "feeds.yaml:7:", "feeds[0].interval: 1e+300 is longer than 7d")


@pytest.mark.parametrize(("value", "seconds"), [("1s", 1), ("90s", 90), ("7d", 7 * 86400), (600, 600), (1.5, 1)])
def test_durations_within_bounds(value: object, seconds: int) -> None:
    assert parse_duration(value, (1, 7 * 86400)) == seconds


# 4. Every problem has its line; an empty file is not a config.


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            feeds_yaml("https://a.example/rss", "https://b.example/rss", "https://a.example/rss"),
            "feeds.yaml:8: feeds[2].url: https://a.example/rss appears twice (first in feeds[0], line 6)",
        ),
        (
            TOPICS + "feeds:\n  - telegram: rian_ru\n  - name: again\n    telegram: https://t.me/s/Rian_Ru\n",
            "feeds.yaml:7: feeds[1].telegram: @Rian_Ru appears twice (first in feeds[0], line 5)",
        ),
        (
            TOPICS + "  - id: rutte\n    query: rutte nato\nfeeds:\n  - url: https://a.example/rss\n",
            "feeds.yaml:4: topics[1].id: topic id 'rutte' appears twice (first in topics[0], line 2)",
        ),
        ("", "feeds.yaml:1: nothing to watch: the file is empty or only comments; it needs a 'topics:' list"),
        ("# feeds come later\n\n# and topics\n", "feeds.yaml:1: nothing to watch"),
        (
            TOPICS + "feeds:\n  - name: both\n    url: https://a.example/rss\n    telegram: not a channel\n",
            "feeds.yaml:5: feeds[0]: a feed needs exactly one of 'url' or 'telegram'",
        ),
        (
            feeds_yaml("http://exa mple.org/feed"),
            "feeds.yaml:6: feeds[0].url: 'http://exa mple.org/feed' is not a valid URL: it contains a space",
        ),
        (feeds_yaml("https://-bad-.example/rss"), "feeds.yaml:6: feeds[0].url: 'https://-bad-.example/rss' is not a valid URL"),
    ],
    ids=["dup-url", "dup-channel", "dup-topic", "empty", "comments-only", "url-and-telegram", "space-in-host", "bad-host"],
)
def test_check_locates_every_problem(tmp_path: Path, content: str, expected: str) -> None:
    stderr, code, _ = check(tmp_path, content)
    assert_refused(stderr, code, expected.split(" ", 1)[0], expected.split(" ", 1)[1])


@pytest.mark.parametrize(
    "url",
    [
        "https://feeds.bbci.co.uk/news/world/rss.xml",
        "http://127.0.0.1:8080/feed.xml",
        "http://[::1]/feed",
        "https://пример.рф/rss",
        "https://example.org/search?q=a%20b&x=1#top",
        "https://user:pw@feeds.example.com/rss",
    ],
)
def test_valid_feed_urls(url: str) -> None:
    assert check_feed_url(url) == url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://exa mple.org/feed", "contains a space"),
        ("https://example.org/a\tb", "contains the control character"),
        ("ftp://example.org/feed", "is not an http(s) URL"),
        ("https:///feed", "has no host name"),
        ("https://exa_mple..org/", "is not a valid host name"),
        ("https://example.org:99999/", "Port out of range"),
        ("https://[::1/", "Invalid IPv6 URL"),
        ("https://" + "a" * 64 + ".example/", "is not a valid host name"),
    ],
)
def test_invalid_feed_urls(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_feed_url(url)


def test_a_settings_only_file_is_still_a_starting_point(tmp_path: Path) -> None:
    """Topics and feeds can come later (admin commands); only a file with nothing at all is refused."""
    path = tmp_path / "feeds.yaml"
    path.write_text("settings:\n  timezone: UTC\n", encoding="utf-8")
    assert load_config(path).feeds == ()
    path.write_text("# empty for now\n", encoding="utf-8")
    with edit_feeds_file(path) as edit:
        edit.doc.add_feed(url="https://a.example/rss")
    assert [f.url for f in load_config(path).feeds] == ["https://a.example/rss"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("topics:\n  - id: t\n    query: rutte\x00\n", "feeds.yaml:3: character U+0000 is not allowed in YAML"),
        ("topics: []\n---\nfeeds: []\n", "feeds.yaml:2: expected a single document in the stream, but found another document"),
        ("feeds: [\n", "feeds.yaml:2: while parsing a flow node, did not find expected node content"),
        ("feeds: *nope\n", "feeds.yaml:1: found undefined alias 'nope'"),
        (
            "topics:\n  - id: t\n    query: {Песков} OR peskov\n",
            'feeds.yaml:3: while parsing a block mapping, did not find expected key (a query that starts with "{" must be quoted',
        ),
        (
            "topics:\n  - id: t\n    query: {Песков}\n",
            'feeds.yaml:3: topics[0].query: a query that starts with "{" must be quoted',
        ),
    ],
)
def test_yaml_errors_are_one_line_with_the_line(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert str(e.value).startswith(expected) and "\n" not in str(e.value)
