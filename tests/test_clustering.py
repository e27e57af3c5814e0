"""The story score (bot.clustering): shared weight, the rarity of a term among the candidate stories,
an outlet's own updates, and statements of one spokesman kept apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import clustering
from bot.clustering import candidate_rarity, choose_story, item_terms, merge_terms, query_term_keys, shared_weight
from bot.models import Candidate, Topic

NOW = datetime(2024, 11, 7, 9, tzinfo=UTC)
PESKOV = Topic("peskov", "Peskov", 'peskov OR песков OR "kremlin spokes*"')


def test_shared_weight_counts_each_term_at_its_smaller_weight() -> None:
    assert shared_weight({"a": 2.0, "b": 1.0}, {"a": 2.0, "b": 1.0}) == pytest.approx(1.0)
    assert shared_weight({"a": 2.0}, {"b": 2.0}) == 0.0
    assert shared_weight({}, {"a": 1.0}) == 0.0
    # a: min(2, 1) = 1 in common, over sqrt((2 + 1) * (1 + 1))
    assert shared_weight({"a": 2.0, "b": 1.0}, {"a": 1.0, "c": 1.0}) == pytest.approx(1 / 6**0.5)


def test_a_term_every_candidate_holds_keeps_little_of_its_weight() -> None:
    candidates = [Candidate(i, {"kremlin": 3.0, "peskov": 1.0, f"own{i}": 3.0}, NOW) for i in range(4)]
    kept = candidate_rarity({"kremlin": 3.0, "own0": 3.0, "scholz": 3.0}, candidates)
    assert kept == {"kremlin": pytest.approx(1 - 4 / (4 + clustering.CANDIDATE_PRIOR)),
                    "own0": pytest.approx(1 - 1 / (4 + clustering.CANDIDATE_PRIOR))}  # fmt: skip
    assert candidate_rarity({"kremlin": 1.0}, candidates[:1]) == {}  # nothing to tell one candidate apart from


def test_an_outlet_updating_its_report_within_hours_still_joins_it() -> None:
    terms = item_terms("Boeing to lay off more than 13,000 workers", "Boeing announced it will lay off 13,000 workers.")
    story = Candidate(1, terms, NOW, same_feed=True)
    idf = clustering.Vocabulary(1, dict.fromkeys(terms, 1)).idf
    soon = clustering.score(terms, NOW + timedelta(hours=2), story, idf)
    next_day = clustering.score(terms, NOW + timedelta(hours=24), story, idf)
    assert soon >= clustering.THRESHOLD > next_day


def _headlines() -> list[list[str]]:
    """The hand-written headlines of tests/data (lang, story, topics, title, lead)."""
    lines = (Path(__file__).parent / "data" / "eval_headlines.tsv").read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in lines if line and not line.startswith("#")]


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_statements_of_one_spokesman_stay_apart_and_their_rewrites_join(lang: str) -> None:
    """The Kremlin spokesman's statements p1-p5, each told twice or more, as outlets write them: the
    same opening names the speaker every time, so only what the statements alone share joins them."""
    rows = _headlines()
    vocab = clustering.Vocabulary()
    for row in rows:
        vocab.add(item_terms(row[3], row[4]))
    keys = query_term_keys([PESKOV.query])
    stories: list[Candidate] = []
    labels: dict[int, set[str]] = {}
    for _, story_label, _, title, lead in (r for r in rows if r[0] == lang and r[1][0] == "p"):
        terms = item_terms(title, lead)
        story = choose_story(terms, NOW, stories, vocab.idf, keys)
        if story is None:
            story = len(stories)
            stories.append(Candidate(story, terms, NOW))
        else:
            stories[story] = Candidate(story, merge_terms(stories[story].terms, terms), NOW)
        labels.setdefault(story, set()).add(story_label)
    assert all(len(told) == 1 for told in labels.values()), labels  # no two statements in one story
    assert len(labels) == len({label for told in labels.values() for label in told})  # each statement in one story


def test_the_story_choice_scores_in_full_only_candidates_that_could_win(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many near-identical candidates (one formula, their own numbers), a few sharing the item's event:
    the choice is the best score over all of them, as scoring each would find, with fewer full scores."""
    lead = "the council met on the budget and the roads of the district this week"
    vocab = clustering.Vocabulary()
    stories = []
    for i in range(60):
        event = i % 20 == 7  # three stories of the item's event among 57 of the formula alone
        title = f"Kremlin spokesman Peskov said: feed {i} item {i * 7}" + (" Scholz called Putin" if event else "")
        terms = item_terms(title, lead)
        vocab.add(terms)
        stories.append(Candidate(i, terms, NOW - timedelta(hours=i % 30), same_feed=i % 9 == 0))
    item = item_terms("Kremlin spokesman Peskov said: feed 99 item 5 Scholz called Putin", lead)
    keys = query_term_keys([PESKOV.query])
    weigh = clustering._Weigher(vocab.idf, keys, candidate_rarity(item, stories))
    own = {t for t in item if not clustering._is_query_term(t, keys)}
    vector = {t: c * weigh(t) for t, c in item.items()}
    scores = [clustering._score(vector, own, NOW, s, weigh) for s in stories]
    expected = max((s, i) for i, s in enumerate(scores) if s >= clustering.THRESHOLD)[1]
    full = []
    monkeypatch.setattr(clustering, "shared_weight", lambda *a: full.append(1) or shared_weight(*a))
    assert choose_story(item, NOW, stories, vocab.idf, keys) == expected == 67 % 60
    assert 1 <= len(full) <= 3  # at most the three stories of its event
