"""Regression set: tests/data/eval_headlines.tsv (155 labelled headlines + leads, written for the
project; the measures on independent text are in tests/test_stories_eval.py and test_topics_eval.py).

Matching uses the topics of the shipped feeds.yaml. Clustering is measured pairwise: a pair of items
is positive when both carry the same story label (one report and its rewrites in one language).
Items are clustered in file order, as a poller would meet them, among stories sharing a topic.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot import clustering
from bot.config import load_config
from bot.matching.matcher import Matcher
from bot.models import Candidate
from tests.conftest import ROOT

DATA = Path(__file__).parent / "data" / "eval_headlines.tsv"


@dataclass(frozen=True)
class Labelled:
    lang: str
    story: str
    topics: frozenset[str]
    title: str
    lead: str


def load_set() -> list[Labelled]:
    rows = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        lang, story, topics, title, lead = line.split("\t")
        rows.append(Labelled(lang, story, frozenset() if topics == "-" else frozenset(topics.split(",")), title, lead))
    return rows


EVAL = load_set()
TOPICS = load_config(ROOT / "feeds.yaml").topics
MATCHER = Matcher(TOPICS)


def matching_scores() -> tuple[float, float, list[str]]:
    tp = fp = fn = 0
    errors = []
    for row in EVAL:
        got = {m.topic for m in MATCHER.match(row.title, row.lead)}
        tp += len(got & row.topics)
        fp += len(got - row.topics)
        fn += len(row.topics - got)
        if got != row.topics:
            errors.append(f"{row.story} {row.title}: got {sorted(got)}, want {sorted(row.topics)}")
    return tp / (tp + fp), tp / (tp + fn), errors


def cluster(rows: list[Labelled], threshold: float = clustering.THRESHOLD) -> list[int]:
    """Story number per row: each row joins the best earlier story sharing a topic, or opens one."""
    vocab = clustering.Vocabulary()
    stories: list[tuple[frozenset[str], dict[str, float], str]] = []  # (topics, terms, language)
    assigned = []
    for row in rows:
        terms = clustering.item_terms(row.title, row.lead)
        vocab.add(terms)
        lang = clustering.item_language(row.title, row.lead)
        candidates = [Candidate(i, t, None) for i, (topics, t, sl) in enumerate(stories) if topics & row.topics and sl == lang]
        chosen = clustering.choose_story(
            terms,
            None,
            candidates,
            vocab.idf,
            clustering.query_term_keys(t.query for t in TOPICS if t.id in row.topics),
            threshold,
        )
        if chosen is None:
            chosen = len(stories)
            stories.append((row.topics, dict(terms), lang))
        else:
            topics, old, sl = stories[chosen]
            stories[chosen] = (topics, clustering.merge_terms(old, terms), sl)
        assigned.append(chosen)
    return assigned


def pairwise(rows: list[Labelled], assigned: list[int]) -> tuple[float, float, float]:
    tp = fp = fn = 0
    for (a, sa), (b, sb) in itertools.combinations(zip(rows, assigned, strict=True), 2):
        same_label, same_story = a.story == b.story, sa == sb
        tp += same_label and same_story
        fp += same_story and not same_label
        fn += same_label and not same_story
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return precision, recall, 2 * precision * recall / (precision + recall)


def test_eval_set_is_big_and_varied() -> None:
    assert len(EVAL) >= 150
    assert {r.lang for r in EVAL} == {"en", "fr", "ru", "uk", "ko"}
    assert sum(1 for r in EVAL if not r.topics) >= 20  # hard negatives


def test_matching_precision_and_recall() -> None:
    precision, recall, errors = matching_scores()
    print(f"matching: precision {precision:.3f}, recall {recall:.3f}")
    assert precision >= 0.97 and recall >= 0.97, "\n".join(errors)


def test_clustering_pairwise_f1() -> None:
    matched = [r for r in EVAL if r.topics]
    precision, recall, f1 = pairwise(matched, cluster(matched))
    print(f"clustering: precision {precision:.3f}, recall {recall:.3f}, F1 {f1:.3f}")
    assert precision >= 0.70 and f1 >= 0.80  # hand-written near-copies with no dates: a regression guard only


@pytest.mark.parametrize("name", ["p1", "p2", "p3", "p4", "p5"])
def test_different_peskov_statements_stay_separate(name: str) -> None:
    rows = [r for r in EVAL if r.story.startswith("p") and r.lang == "ru"]
    assigned = cluster(rows)
    mine = {a for r, a in zip(rows, assigned, strict=True) if r.story.split(".")[0] == name}
    others = {a for r, a in zip(rows, assigned, strict=True) if r.story.split(".")[0] != name}
    assert not mine & others
