"""Story clustering measured on real reports: stream items in time order through bot.clustering and
score the stories against the events people labelled (BCubed precision, recall and F1).

Sets: ../shared/corpus/stories/events.tsv (read in place, English and Russian),
tests/data/stories_fr_uk_ko.tsv (French, Ukrainian, Korean), tests/data/stories_ko_en_2025.tsv
(two days of Korean and English headlines, with events reported in both languages) and
tests/data/stories_pages.tsv (stored news pages in five languages, 2024-2026), all with the columns
item_id, event_id, lang, outlet, published, title, lead, url, source.
"""

from __future__ import annotations

import csv
import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot import clustering, crosslang
from bot.config import load_config
from bot.matching.matcher import Matcher
from bot.stories import story_url

ROOT = Path(__file__).resolve().parent.parent
SHARED_EVENTS = ROOT.parent / "shared" / "corpus" / "stories" / "events.tsv"
OWN_EVENTS = Path(__file__).parent / "data" / "stories_fr_uk_ko.tsv"
HEADLINE_DAY = Path(__file__).parent / "data" / "stories_ko_en_2025.tsv"
PAGES = Path(__file__).parent / "data" / "stories_pages.tsv"


@dataclass(frozen=True)
class Report:
    item_id: str
    event: str
    lang: str
    outlet: str
    at: datetime | None
    title: str
    lead: str
    url: str


def parse_when(text: str) -> datetime | None:
    """'2020-05-27 02:07 UTC', '2025-08-04' or '2025-08-04 00:00 (first seen ...)' -> UTC datetime."""
    for fmt, size in (("%Y-%m-%d %H:%M", 16), ("%Y-%m-%d", 10)):
        try:
            return datetime.strptime(text.strip()[:size], fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def load_reports(path: Path) -> list[Report]:
    """The rows of one labelled set."""
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [
        Report(r["item_id"], r["event_id"], r["lang"], r["outlet"], parse_when(r["published"]), r["title"], r["lead"], r["url"])
        for r in rows
    ]


def present_sets() -> list[Path]:
    """The labelled story sets: the project's own, and the shared one where ../shared is beside it."""
    own = [OWN_EVENTS, HEADLINE_DAY, PAGES]
    return [*own, SHARED_EVENTS] if SHARED_EVENTS.exists() else own


def widely_reported(reports: Iterable[Report], min_outlets: int = 3) -> set[str]:
    """Events reported by at least `min_outlets` distinct outlets (in any language)."""
    outlets: dict[str, set[str]] = defaultdict(set)
    for r in reports:
        outlets[r.event].add(r.outlet)
    return {event for event, names in outlets.items() if len(names) >= min_outlets}


class ShippedTopics:
    """The shipped topics (feeds.yaml): the names their queries spell in several scripts, and the
    names of the topics an item matches (no evidence across languages for that item)."""

    def __init__(self) -> None:
        topics = load_config(ROOT / "feeds.yaml").topics
        self.aliases = crosslang.alias_groups(t.query for t in topics)
        self._own = {t.id: crosslang.own_names([t.query], self.aliases) for t in topics}
        self._matcher = Matcher(topics)

    def own_names(self, title: str, lead: str) -> frozenset[str]:
        return frozenset().union(*(self._own[m.topic] for m in self._matcher.match(title, lead)))


def cluster(reports: Sequence[Report], threshold: float = clustering.THRESHOLD, across: bool = True) -> dict[str, int]:
    """Story number per item id, items met in time order as a poller would meet them; with `across`,
    an item that joins no story in its language may join one in another (`bot.crosslang`; measured,
    not used by the product)."""
    shipped = ShippedTopics() if across else None
    anchors_of: dict[int, frozenset[str]] = {}
    order = sorted(reports, key=lambda r: (r.at or datetime.min.replace(tzinfo=UTC), r.item_id))
    vocab = clustering.Vocabulary()
    stories: dict[int, tuple[dict[str, float], datetime | None, set[str], str]] = {}  # terms, last, outlets, language
    by_url: dict[str, int] = {}
    out: dict[str, int] = {}
    for r in order:
        terms = clustering.item_terms(r.title, r.lead)
        language = clustering.item_language(r.title, r.lead)
        vocab.add(terms)
        url = story_url(r.url)
        chosen = by_url.get(url) if url else None
        if chosen is None:
            candidates = [
                clustering.Candidate(sid, t, last, r.outlet in outlets)
                for sid, (t, last, outlets, lang) in stories.items()
                if lang == language and _recent(r.at, last)
            ]
            chosen = clustering.choose_story(terms, r.at, candidates, vocab.idf, threshold=threshold)
        anchors = crosslang.anchors(r.title, r.lead, language, shipped.aliases) if shipped else frozenset()
        if chosen is None and shipped is not None:
            others = [
                crosslang.Across(sid, anchors_of[sid], last) for sid, (_, last, _, lang) in stories.items() if lang != language
            ]
            chosen = crosslang.choose_across(anchors, r.at, others, shipped.own_names(r.title, r.lead))
        if chosen is None:
            chosen = len(stories)
            stories[chosen] = (dict(terms), r.at, {r.outlet}, language)
        else:
            t, last, outlets, lang = stories[chosen]
            latest = max((x for x in (last, r.at) if x), default=None)
            stories[chosen] = (clustering.merge_terms(t, terms), latest, outlets | {r.outlet}, lang)
        anchors_of[chosen] = anchors_of.get(chosen, frozenset()) | anchors
        if url:
            by_url[url] = chosen
        out[r.item_id] = chosen
    return out


def _recent(at: datetime | None, last: datetime | None) -> bool:
    return at is None or last is None or abs(at - last) <= clustering.CLUSTER_WINDOW


def bcubed(reports: Iterable[Report], assigned: dict[str, int]) -> tuple[float, float, float]:
    """BCubed precision, recall and F1 of an assignment against the labelled events."""
    rows = list(reports)
    by_event: dict[str, set[str]] = defaultdict(set)
    by_story: dict[int, set[str]] = defaultdict(set)
    for r in rows:
        by_event[r.event].add(r.item_id)
        by_story[assigned[r.item_id]].add(r.item_id)
    event_of = {r.item_id: r.event for r in rows}
    p = r_ = 0.0
    for item in rows:
        story = by_story[assigned[item.item_id]]
        event = by_event[item.event]
        correct = sum(1 for other in story if event_of[other] == item.event)
        p += correct / len(story)
        r_ += correct / len(event)
    precision, recall = p / len(rows), r_ / len(rows)
    return precision, recall, 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def cross_language_anchor_rule(reports: Sequence[Report], min_shared: int) -> tuple[int, int, int]:
    """Pairs of reports in different languages within crosslang.WINDOW_H hours: (sharing at least
    `min_shared` anchors and of one event, sharing as many but of different events, of one event).
    The names of the shipped topics both reports match are left out, as for a topic's own items."""
    shipped = ShippedTopics()
    anchors = {r.item_id: crosslang.anchors(r.title, r.lead, r.lang, shipped.aliases) for r in reports}
    own = {r.item_id: shipped.own_names(r.title, r.lead) for r in reports}
    right = wrong = same = 0
    for a, b in itertools.combinations(reports, 2):
        if a.lang == b.lang or not crosslang.within_hours(a.at, b.at, crosslang.WINDOW_H):
            continue
        same += a.event == b.event
        if crosslang.shared(anchors[a.item_id], anchors[b.item_id], own[a.item_id] & own[b.item_id]) >= min_shared:
            right += a.event == b.event
            wrong += a.event != b.event
    return right, wrong, same


def cross_language_bcubed(reports: Iterable[Report], assigned: dict[str, int]) -> tuple[float, float, float]:
    """BCubed over links between languages only: precision over the items whose story holds reports
    in another language (the share of those of the item's event), recall over the items whose event
    was reported in another language (the share of those in the item's story)."""
    rows = list(reports)
    by_story: dict[int, list[Report]] = defaultdict(list)
    by_event: dict[str, list[Report]] = defaultdict(list)
    for r in rows:
        by_story[assigned[r.item_id]].append(r)
        by_event[r.event].append(r)
    precisions, recalls = [], []
    for item in rows:
        story = [o for o in by_story[assigned[item.item_id]] if o.lang != item.lang]
        event = [o for o in by_event[item.event] if o.lang != item.lang]
        if story:
            precisions.append(sum(o.event == item.event for o in story) / len(story))
        if event:
            recalls.append(sum(assigned[o.item_id] == assigned[item.item_id] for o in event) / len(event))
    precision = sum(precisions) / len(precisions) if precisions else 1.0
    recall = sum(recalls) / len(recalls) if recalls else 0.0
    return precision, recall, 2 * precision * recall / (precision + recall) if precision + recall else 0.0
