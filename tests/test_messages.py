"""What a subscriber reads: alerts, grown alerts, bursts, digests and story pages, table-driven, with
Cyrillic, Hangul and emoji titles, dates in three zones; and the README's examples are what the code
renders."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest

from bot.delivery.messages import (
    More,
    more_data,
    order_names,
    outlets,
    page_data,
    parse_button_data,
    render_alert,
    render_burst,
    render_digest,
    render_page,
)
from bot.delivery.render import utf16_len
from bot.models import Delivery, StoryView
from tests.conftest import ROOT

NOW = datetime(2026, 11, 28, 17, 0, tzinfo=UTC)  # Paris 18:00, Seoul 02:00 on 29 Nov, New York 12:00
NAMES = {"rutte": "Mark Rutte", "peskov": "Dmitry Peskov", "korea": "북한군 파병"}


def delivery(
    n: int,
    title: str,
    *,
    feed: str = "Reuters",
    also: tuple[str, ...] = (),
    topic: str = "rutte",
    at: datetime = NOW - timedelta(hours=3),
) -> Delivery:
    return Delivery(n, 1, None, "alert", 100 + n, topic, title, f"https://news.example/{n}", feed, at, at, 0, len(also) + 1, also)


def visible(text: str) -> str:
    """What Telegram shows of our HTML."""
    return html.unescape(re.sub(r"<[^>]*>", "", text))


@pytest.mark.parametrize(
    ("title", "zone", "at", "expected"),
    [
        (
            "Rutte: NATO stands by Ukraine 🇺🇦",
            "Europe/Paris",
            NOW - timedelta(hours=3),
            '🔔 <b>Mark Rutte</b>\n<b><a href="https://news.example/1">Rutte: NATO stands by Ukraine 🇺🇦</a></b>\n'
            "Reuters · today 15:00 (Paris time)",
        ),
        (
            "Рютте призвал усилить поддержку Украины",
            "Europe/Paris",
            datetime(2025, 10, 23, 9, 30, tzinfo=UTC),
            '🔔 <b>Mark Rutte</b>\n<b><a href="https://news.example/1">Рютте призвал усилить поддержку Украины</a></b>\n'
            "Reuters · 23 Oct 2025 11:30 (Paris time)",
        ),
        (
            "뤼터 나토 사무총장, 북한군 파병 규탄",
            "Asia/Seoul",
            NOW - timedelta(hours=3),
            '🔔 <b>Mark Rutte</b>\n<b><a href="https://news.example/1">뤼터 나토 사무총장, 북한군 파병 규탄</a></b>\n'
            "Reuters · yesterday 23:00 (Seoul time)",
        ),
        (
            "Rutte <NATO> & allies 🤝🏽",
            "America/New_York",
            datetime(2026, 3, 8, 7, 30, tzinfo=UTC),
            '🔔 <b>Mark Rutte</b>\n<b><a href="https://news.example/1">Rutte &lt;NATO&gt; &amp; allies 🤝🏽</a></b>\n'
            "Reuters · 8 Mar 03:30 (New York time)",
        ),
    ],
)
def test_alert(title: str, zone: str, at: datetime, expected: str) -> None:
    assert render_alert(delivery(1, title, at=at), "Mark Rutte", zone, NOW) == expected


@pytest.mark.parametrize(
    ("also", "line"),
    [
        ((), ""),
        (("BBC",), "also: BBC · 2 outlets"),
        (("BBC", "Le Monde"), "also: BBC, Le Monde · 3 outlets"),
        (("BBC", "Le Monde", "연합뉴스", "Медуза"), "also: BBC, Le Monde, +2 · 5 outlets"),
        (("A&B <news>",), "also: A&amp;B &lt;news&gt; · 2 outlets"),
    ],
)
def test_a_grown_alert_names_two_outlets_and_counts_them_all(also: tuple[str, ...], line: str) -> None:
    d = delivery(1, "Rutte in Kyiv", also=also)
    text = render_alert(d, "Mark Rutte", "UTC", NOW)
    assert outlets(d) == line
    assert text.endswith(f"\n{line}" if line else "(UTC)")


def test_a_burst_shows_ten_and_keeps_the_rest_in_order() -> None:
    titles = ["Rutte in Kyiv 🇺🇦", "Песков: без комментариев", "뤼터, 서울 방문"] * 4
    items = [delivery(i, t, topic=("rutte", "peskov", "korea")[i % 3]) for i, t in enumerate(titles)]
    text, more = render_burst(items, NAMES, "Asia/Seoul", NOW)
    lines = text.split("\n")
    assert lines[0] == "🔔 <b>12 new stories</b> · Mark Rutte, Dmitry Peskov, 북한군 파병"  # feeds.yaml's order
    assert lines[1] == '• <a href="https://news.example/0">Rutte in Kyiv 🇺🇦</a> · Reuters · yesterday 23:00 (Seoul time)'
    assert lines[2].endswith("· Reuters · yesterday 23:00")  # the zone is named once
    assert lines[-1] == "+2 more" and len(lines) == 12
    assert more == More("Mark Rutte, Dmitry Peskov, 북한군 파병", "burst", (110, 111), 10, 12)
    assert render_burst(items[:10], NAMES, "UTC", NOW)[1] is None


def test_a_digest_of_one_story_says_one_story() -> None:
    (part,) = render_digest([delivery(0, "Rutte story")], NAMES, "Europe/Paris", NOW, ids=[1])
    assert part.text.startswith("📰 <b>Digest</b> · today 18:00 (Paris time) · 1 story\n")


def test_a_digest_orders_topics_by_size_and_stories_by_outlets_and_keeps_the_rest() -> None:
    items = [delivery(i, f"Rutte story {i} 📰") for i in range(30)]
    items += [delivery(40, "Песков ответил", topic="peskov", also=("ТАСС", "РИА"))]
    items[7] = delivery(7, "Rutte story 7 📰", also=("BBC", "AP", "AFP"))
    items[3] = delivery(3, "Rutte story 3 📰", also=("BBC",))
    (part,) = render_digest(items, NAMES, "Europe/Paris", NOW, ids=[d.id for d in items])
    text = part.text
    assert text.startswith("📰 <b>Digest</b> · today 18:00 (Paris time) · 31 stories\n\n<b>Mark Rutte</b> (30)\n")
    shown = re.findall(r"news\.example/(\d+)", text)
    assert shown == ["7", "3", "0", "1", "2", "4", "5", "6", "8", "9", "40"]  # most outlets first
    assert "\n+20 more\n" in text and text.index("Mark Rutte") < text.index("Dmitry Peskov")
    assert "  Reuters · today 15:00 · also: BBC, AP, +1 · 4 outlets" in text
    (more,) = part.more
    assert more == More("Mark Rutte", "digest", tuple(100 + i for i in range(10, 30)), 10, 30)
    assert sorted(part.delivery_ids) == sorted(d.id for d in items)


@pytest.mark.parametrize("title", ["🇺🇦🇰🇷" * 60, "Рютте " * 50, "북한군 파병 " * 40, "<&>" * 100])
def test_a_long_digest_splits_between_stories_and_carries_each_once(title: str) -> None:
    items = [delivery(i, f"{title} {i}", topic=("rutte", "peskov")[i % 2]) for i in range(60)]
    parts = render_digest(items, NAMES, "UTC", NOW, per_topic=25, limit=4096)
    assert len(parts) > 1
    assert all(utf16_len(visible(p.text)) <= 4096 for p in parts)
    carried = [i for p in parts for i in p.delivery_ids]
    assert sorted(carried) == list(range(100, 160))  # story ids stand in when no delivery ids are given
    assert sum(len(p.more) for p in parts) == 2


@pytest.mark.parametrize(
    ("origin", "start", "expected_head"),
    [
        ("digest", 10, "📰 <b>Mark Rutte</b> · from the digest of yesterday 18:00 (Paris time) · 11–12 of 30"),
        ("burst", 10, "🔔 <b>Mark Rutte</b> · from the alert of yesterday 18:00 (Paris time) · 11–12 of 30"),
        ("latest", 0, "🗂 <b>Mark Rutte</b> · latest stories 1–2 of 30"),
    ],
)
def test_a_page_says_where_its_stories_sit(origin: str, start: int, expected_head: str) -> None:
    stories = [
        StoryView(1, "Рютте в Сеуле 🇰🇷", "https://news.example/1", "Meduza", NOW - timedelta(hours=2), None, 2, ("BBC",)),
        StoryView(2, "뤼터 방한", None, "Yonhap", None, NOW - timedelta(days=400)),
    ]
    text = render_page("Mark Rutte", origin, stories, start, 30, "Europe/Paris", NOW, NOW - timedelta(days=1))
    head, *rest = text.split("\n")
    assert head == expected_head
    named = " (Paris time)" if origin == "latest" else ""
    assert rest == [
        '• <a href="https://news.example/1">Рютте в Сеуле 🇰🇷</a>',
        f"  Meduza · today 16:00{named} · also: BBC · 2 outlets",
        "• 뤼터 방한",
        "  Yonhap · 24 Oct 2025 19:00",  # still summer time in Paris then
    ]


@pytest.mark.parametrize(
    ("data", "parsed"),
    [
        (more_data(12), (12, 0)),
        (page_data(12, 3), (12, 3)),
        (page_data(2**62, 10**6), (2**62, 10**6)),
        ("more:12:1", None),
        ("page:12", None),
        ("page:x:1", None),
        ("topic:rutte", None),
        ("more:", None),
    ],
)
def test_button_data_round_trips_and_fits_telegrams_64_bytes(data: str, parsed: tuple[int, int] | None) -> None:
    assert parse_button_data(data) == parsed
    assert len(data.encode()) <= 64


def test_topic_names_come_in_one_order_everywhere() -> None:
    assert order_names(["peskov", "rutte"], NAMES) == ["Mark Rutte", "Dmitry Peskov"]
    assert order_names(["rutte", "peskov", "rutte"], NAMES) == ["Mark Rutte", "Dmitry Peskov"]
    assert order_names(["zeta watch", "korea", "alpha watch"], NAMES) == ["북한군 파병", "alpha watch", "zeta watch"]


def readme_examples() -> dict[str, str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.findall(r"<!-- example: (\w+) -->\n```text\n(.*?)\n```", readme, flags=re.S)
    return dict(found)


README_NOW = datetime(2026, 11, 28, 17, 0, tzinfo=UTC)


def shown(n: int, topic: str, title: str, feed: str, at: datetime, also: tuple[str, ...] = ()) -> Delivery:
    return Delivery(n, 1, None, "alert", n, topic, title, f"https://example.org/{n}", feed, at, at, 0, len(also) + 1, also)


def readme_rendered() -> dict[str, str]:
    """The README's examples, rendered from this data by the code that renders every message."""
    at = README_NOW - timedelta(hours=2, minutes=48)
    title = "Rutte: NATO allies must step up air defence for Ukraine"
    alert = shown(1, "rutte", title, "Reuters", at)
    grown = shown(1, "rutte", title, "Reuters", at, ("BBC", "Le Monde", "Yonhap", "Meduza", "Ukrainska Pravda"))
    stories = [
        grown,
        shown(2, "rutte", "Рютте: КНДР направила войска в Россию", "Meduza", at - timedelta(hours=20), ("BBC Russian",)),
        shown(3, "peskov", "Песков: Кремль не комментирует сообщения о войсках КНДР", "RBC", at - timedelta(hours=1)),
        shown(4, "rutte", "뤼터 나토 사무총장, 북한군 파병 확인", "Yonhap", datetime(2025, 10, 28, 8, 0, tzinfo=UTC)),
    ]
    (digest,) = render_digest(stories, NAMES, "Europe/Paris", README_NOW, per_topic=2)
    return {
        "alert": render_alert(alert, "Mark Rutte", "Europe/Paris", README_NOW),
        "grown": render_alert(grown, "Mark Rutte", "Europe/Paris", README_NOW),
        "digest": digest.text,
    }


def test_the_readme_shows_what_the_code_renders() -> None:
    shown = readme_examples()
    assert sorted(shown) == ["alert", "digest", "grown"]
    for name, text in readme_rendered().items():
        assert shown[name] == visible(text), name
