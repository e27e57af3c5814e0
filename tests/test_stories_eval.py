"""Story clustering and topic matching on text written by real, independent outlets.

Stories: ../shared/corpus/stories/events.tsv (English and Russian, read in place; skipped where
../shared is absent), tests/data/stories_fr_uk_ko.tsv (French, Ukrainian, Korean; provenance in
stories_fr_uk_ko.md), tests/data/stories_ko_en_2025.tsv (two days of Korean and English headlines;
provenance in stories_ko_en_2025.md) and tests/data/stories_pages.tsv (stored news pages in five
languages; provenance in stories_pages.md). Topics: tests/data/topic_items.tsv (five languages; provenance in
topic_items.md). The floors are the measured figures rounded down, so a change that loses
precision or recall fails here; `pytest -s` prints the figures.
"""

from __future__ import annotations

from dataclasses import astuple
from pathlib import Path

import pytest

from bot.config import load_config
from bot.matching.matcher import Matcher
from tests import storyeval, topiceval
from tests.conftest import ROOT

# language -> (BCubed precision floor, F1 floor), measured with bot.clustering's constants
STORY_FLOORS = {"en": (0.96, 0.87), "ru": (0.98, 0.78), "fr": (1.0, 1.0), "uk": (0.99, 0.94), "ko": (0.99, 0.96)}
# language -> (matching precision floor, recall floor) with the shipped topics
TOPIC_FLOORS = {"en": (0.97, 0.97), "fr": (0.94, 0.99), "ru": (0.99, 0.98), "uk": (0.99, 0.99), "ko": (0.98, 0.98)}


def _reports(lang: str) -> list[storyeval.Report]:
    if lang in ("en", "ru"):
        if not storyeval.SHARED_EVENTS.exists():
            pytest.skip("../shared/corpus/stories/events.tsv is not beside this checkout")
        reports = storyeval.load_reports(storyeval.SHARED_EVENTS)
    else:
        reports = storyeval.load_reports(storyeval.OWN_EVENTS)
    return [r for r in reports if r.lang == lang]


@pytest.mark.parametrize("lang", sorted(STORY_FLOORS))
def test_stories_are_events_on_independent_reports(lang: str) -> None:
    reports = _reports(lang)
    precision, recall, f1 = storyeval.bcubed(reports, storyeval.cluster(reports))
    print(f"stories {lang}: {len(reports)} items, BCubed precision {precision:.3f}, recall {recall:.3f}, F1 {f1:.3f}")
    floor_p, floor_f1 = STORY_FLOORS[lang]
    assert precision >= floor_p and f1 >= floor_f1


# language -> (BCubed precision floor, F1 floor) on two days of headlines without leads (Korean, English)
HEADLINE_FLOORS = {"en": (0.98, 0.87), "ko": (0.97, 0.85)}


def check_set(label: str, path: Path, lang: str, floors: dict[str, tuple[float, float]]) -> None:
    """BCubed of one language of one of our sets, printed, and held to its floors."""
    reports = [r for r in storyeval.load_reports(path) if r.lang == lang]
    precision, recall, f1 = storyeval.bcubed(reports, storyeval.cluster(reports))
    print(f"{label} {lang}: {len(reports)} items, BCubed precision {precision:.3f}, recall {recall:.3f}, F1 {f1:.3f}")
    floor_p, floor_f1 = floors[lang]
    assert precision >= floor_p and f1 >= floor_f1


@pytest.mark.parametrize("lang", sorted(HEADLINE_FLOORS))
def test_stories_are_events_on_two_days_of_headlines(lang: str) -> None:
    check_set("headlines", storyeval.HEADLINE_DAY, lang, HEADLINE_FLOORS)


# language -> (BCubed precision floor, F1 floor) on stored news pages: leads without titles, dates without times
PAGE_FLOORS = {"fr": (0.99, 0.72), "ko": (0.99, 0.85), "ru": (0.99, 0.87), "uk": (0.99, 0.76)}


@pytest.mark.parametrize("lang", sorted(PAGE_FLOORS))
def test_stories_are_events_on_stored_news_pages(lang: str) -> None:
    check_set("pages", storyeval.PAGES, lang, PAGE_FLOORS)


def test_sixty_events_are_reported_by_three_outlets_or_more() -> None:
    """Across the sets present (the shared one only where ../shared is beside the checkout)."""
    counts = {path.name: len(storyeval.widely_reported(storyeval.load_reports(path))) for path in storyeval.present_sets()}
    print(f"events with 3+ outlets: {counts}, {sum(counts.values())} in all")
    assert counts["stories_pages.tsv"] >= 12 and counts["stories_ko_en_2025.tsv"] >= 13
    if storyeval.SHARED_EVENTS.exists():
        assert sum(counts.values()) >= 60


def test_cross_language_evidence_is_measured_on_every_set() -> None:
    """Pairs of reports in different languages within two days, by how many language-independent
    anchors they share (numbers, names in Latin letters or transliterated, the topics' names in
    several scripts; bot.crosslang): one joins different events more often than one event, two
    joined only reports of one event (measured here, printed with -s)."""
    counts = [[0, 0, 0], [0, 0, 0]]
    for path in storyeval.present_sets():  # events are labelled per set
        reports = storyeval.load_reports(path)
        for min_shared, total in zip((1, 2), counts, strict=True):
            total[:] = map(sum, zip(total, storyeval.cross_language_anchor_rule(reports, min_shared), strict=True))
    (right1, wrong1, same), (right2, wrong2, _) = counts
    print(
        f"cross-language, >= 1 shared anchor: {right1} right, {wrong1} wrong; >= 2: {right2} right, {wrong2} wrong;"
        f" of {same} same-event pairs"
    )
    assert same >= 105
    assert wrong1 > right1  # one anchor is no evidence
    assert right2 >= 14 and wrong2 == 0  # two are precise, but rare: bot.crosslang.MIN_SHARED


def test_stories_join_across_languages_without_losing_precision() -> None:
    """An item that joins no story in its language may join one in another (bot.crosslang): per set, cross-language BCubed (links between languages only) with the join on, and each
    language's BCubed precision with and without it: joining across languages must not lower it."""
    reports: list[storyeval.Report] = []
    on: dict[str, int] = {}
    for n, path in enumerate(storyeval.present_sets()):
        rows = [r.__class__(f"{n}:{r.item_id}", f"{n}:{r.event}", *astuple(r)[2:]) for r in storyeval.load_reports(path)]
        joined, apart = storyeval.cluster(rows), storyeval.cluster(rows, across=False)
        p, r_, f1 = storyeval.cross_language_bcubed(rows, joined)
        print(f"{path.name}: cross-language BCubed precision {p:.3f}, recall {r_:.3f}, F1 {f1:.3f}")
        for lang in sorted({r.lang for r in rows}):
            mine = [r for r in rows if r.lang == lang]
            with_join, without = storyeval.bcubed(mine, joined), storyeval.bcubed(mine, apart)
            print(f"  {lang}: precision {without[0]:.3f} -> {with_join[0]:.3f}, F1 {without[2]:.3f} -> {with_join[2]:.3f}")
            assert with_join[0] >= without[0] and with_join[2] >= without[2]
        reports += rows
        on.update({item: n * 100_000 + story for item, story in joined.items()})
    p, r_, f1 = storyeval.cross_language_bcubed(reports, on)
    print(f"all sets: cross-language BCubed precision {p:.3f}, recall {r_:.3f}, F1 {f1:.3f}")
    assert p >= 0.95 and r_ >= 0.15  # precise; most events still make one story per language


def test_the_story_sets_are_real_and_varied() -> None:
    own = storyeval.load_reports(storyeval.OWN_EVENTS)
    assert {r.lang for r in own} == {"fr", "uk", "ko"}
    day = storyeval.load_reports(storyeval.HEADLINE_DAY)
    assert {r.lang for r in day} == {"en", "ko"}
    pages = storyeval.load_reports(storyeval.PAGES)
    assert {r.lang for r in pages} == {"en", "fr", "ru", "uk", "ko"}
    for reports in (own, day, pages):
        assert all((r.title or r.lead) and r.event and r.url for r in reports)
        assert len({r.item_id for r in reports}) == len(reports)
        assert len({r.url for r in reports}) == len(reports)
    langs_of: dict[str, set[str]] = {}
    outlets_of: dict[str, set[str]] = {}
    for r in day:
        langs_of.setdefault(r.event, set()).add(r.lang)
        outlets_of.setdefault(r.event, set()).add(r.outlet)
    assert sum(1 for langs in langs_of.values() if len(langs) > 1) >= 7  # events reported in both languages
    assert sum(1 for outlets in outlets_of.values() if len(outlets) >= 3) >= 13


MATCHER = Matcher(load_config(ROOT / "feeds.yaml").topics)


@pytest.mark.parametrize("lang", sorted(TOPIC_FLOORS))
def test_shipped_topics_on_real_items(lang: str) -> None:
    items = topiceval.load_items(with_corpus=topiceval.CORPUS.exists())
    precision, recall, positives, errors = topiceval.scores(MATCHER, items)[lang]
    print(f"topics {lang}: {positives} positives, precision {precision:.3f}, recall {recall:.3f}")
    floor_p, floor_r = TOPIC_FLOORS[lang]
    assert precision >= floor_p and recall >= floor_r, "\n".join(errors)


def test_topic_set_has_a_hundred_real_positives_in_five_languages() -> None:
    items = topiceval.load_items(with_corpus=False)
    assert {it.lang for it in items} == {"en", "fr", "ru", "uk", "ko"}
    assert sum(1 for it in items if it.topics) >= 100
