"""Dates as a reader reads them: today / yesterday / this year / last year in three zones, DST edges."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.dates import format_day, format_short, format_when, zone_label


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


NOW = utc("2026-06-14 10:00")  # Paris 12:00, Seoul 19:00, New York 06:00 (all on 14 Jun)


@pytest.mark.parametrize(
    ("zone", "moment", "expected"),
    [
        # today
        ("Europe/Paris", "2026-06-14 07:30", "today 09:30"),
        ("Asia/Seoul", "2026-06-14 07:30", "today 16:30"),
        ("America/New_York", "2026-06-14 07:30", "today 03:30"),
        # the same instant is "yesterday" in one zone and "today" in another
        ("Asia/Seoul", "2026-06-13 16:00", "today 01:00"),
        ("Europe/Paris", "2026-06-13 16:00", "yesterday 18:00"),
        ("America/New_York", "2026-06-14 02:00", "yesterday 22:00"),
        ("Europe/Paris", "2026-06-14 02:00", "today 04:00"),
        # yesterday, at the edges of the reader's day
        ("Europe/Paris", "2026-06-12 22:00", "yesterday 00:00"),
        ("Europe/Paris", "2026-06-12 21:59", "12 Jun 23:59"),
        ("Asia/Seoul", "2026-06-12 15:00", "yesterday 00:00"),
        ("America/New_York", "2026-06-13 03:59", "12 Jun 23:59"),
        # this year: no year
        ("Europe/Paris", "2026-01-02 09:00", "2 Jan 10:00"),
        ("Asia/Seoul", "2026-03-01 00:00", "1 Mar 09:00"),
        ("America/New_York", "2026-06-01 12:00", "1 Jun 08:00"),
        # last year: the year is shown
        ("Europe/Paris", "2025-06-13 12:00", "13 Jun 2025 14:00"),
        ("Asia/Seoul", "2025-12-31 15:00", "1 Jan 00:00"),  # already 2026 in Seoul
        ("Europe/Paris", "2025-12-31 15:00", "31 Dec 2025 16:00"),
        ("America/New_York", "2024-10-23 14:00", "23 Oct 2024 10:00"),
        # ahead of now (a feed dating its item in the future)
        ("Europe/Paris", "2026-06-15 08:00", "tomorrow 10:00"),
        ("Europe/Paris", "2026-08-01 08:00", "1 Aug 10:00"),
    ],
)
def test_format_when_in_three_zones(zone: str, moment: str, expected: str) -> None:
    assert format_when(utc(moment), NOW, zone) == expected


@pytest.mark.parametrize(
    ("zone", "now", "moment", "expected"),
    [
        # Paris springs forward at 01:00 UTC on 29 Mar 2026: 01:59 CET, then 03:00 CEST
        ("Europe/Paris", "2026-03-29 12:00", "2026-03-29 00:59", "today 01:59"),
        ("Europe/Paris", "2026-03-29 12:00", "2026-03-29 01:00", "today 03:00"),
        # local now is 00:30 on 30 Mar: 29 Mar is "yesterday" although it had only 23 hours
        ("Europe/Paris", "2026-03-29 22:30", "2026-03-28 23:30", "yesterday 00:30"),
        ("Europe/Paris", "2026-03-29 22:30", "2026-03-28 22:30", "28 Mar 23:30"),  # two local days back
        ("Europe/Paris", "2026-03-29 22:30", "2026-03-29 22:00", "today 00:00"),  # local now is 00:30 on the 30th
        # Paris falls back at 01:00 UTC on 25 Oct 2026: 02:30 happens twice, both read 02:30
        ("Europe/Paris", "2026-10-25 12:00", "2026-10-25 00:30", "today 02:30"),
        ("Europe/Paris", "2026-10-25 12:00", "2026-10-25 01:30", "today 02:30"),
        # New York springs forward at 07:00 UTC on 8 Mar 2026 (01:59 EST -> 03:00 EDT)
        ("America/New_York", "2026-03-08 15:00", "2026-03-08 06:59", "today 01:59"),
        ("America/New_York", "2026-03-08 15:00", "2026-03-08 07:00", "today 03:00"),
        # and falls back at 06:00 UTC on 1 Nov 2026: 23:30 local on 31 Oct is still yesterday at 04:10 UTC
        ("America/New_York", "2026-11-01 05:10", "2026-11-01 03:30", "yesterday 23:30"),
        ("America/New_York", "2026-11-01 06:10", "2026-11-01 05:30", "today 01:30"),
        ("America/New_York", "2026-11-01 06:10", "2026-11-01 06:30", "today 01:30"),
        # Seoul keeps no DST: 15:00 UTC is midnight there all year
        ("Asia/Seoul", "2026-03-29 15:30", "2026-03-29 14:59", "yesterday 23:59"),
        ("Asia/Seoul", "2026-10-25 15:30", "2026-10-25 15:00", "today 00:00"),
    ],
)
def test_format_when_across_dst_changes(zone: str, now: str, moment: str, expected: str) -> None:
    assert format_when(utc(moment), utc(now), zone) == expected


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("2026-06-14 07:30", "09:30"),  # today: the time alone
        ("2026-06-13 07:30", "yesterday 09:30"),
        ("2025-06-14 07:30", "14 Jun 2025 09:30"),
    ],
)
def test_format_short_drops_today(moment: str, expected: str) -> None:
    assert format_short(utc(moment), NOW, "Europe/Paris") == expected


def test_naive_moments_are_utc_and_unknown_zones_read_as_utc() -> None:
    assert format_when(datetime(2026, 6, 14, 7, 30), NOW, "Europe/Paris") == "today 09:30"
    assert format_when(utc("2026-06-14 07:30"), NOW, "Mars/Olympus") == "today 07:30"
    assert format_when(None, NOW, "UTC", unknown="date unknown") == "date unknown"
    assert format_day(utc("2025-01-05 00:00"), NOW, "UTC") == "5 Jan 2025"


@pytest.mark.parametrize(
    ("zone", "label"),
    [
        ("Europe/Paris", "Paris time"),
        ("Asia/Seoul", "Seoul time"),
        ("America/New_York", "New York time"),
        ("America/Argentina/Buenos_Aires", "Buenos Aires time"),
        ("UTC", "UTC"),
        ("Etc/UTC", "UTC"),
        ("Etc/GMT+5", "Etc/GMT+5"),
        ("Not/AZone", "UTC"),
    ],
)
def test_zone_label_names_the_city(zone: str, label: str) -> None:
    assert zone_label(zone) == label
