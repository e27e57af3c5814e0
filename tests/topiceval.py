"""Topic matching measured on real items labelled with the shipped topics (tests/data/topic_items.tsv,
provenance in topic_items.md). Rows that point into ../shared/corpus are read from it in place."""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from bot.matching.matcher import Matcher
from bot.sources.rss import parse_feed
from bot.sources.tchannel import parse_channel_page

DATA = Path(__file__).parent / "data" / "topic_items.tsv"
CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"


@dataclass(frozen=True)
class LabelledItem:
    id: str
    lang: str
    topics: frozenset[str]
    title: str
    text: str


@cache
def _corpus_items(relative: str) -> dict[str, tuple[str, str]]:
    body = (CORPUS / relative).read_bytes()
    if relative.startswith("tchannel/"):
        parsed = parse_channel_page(body, "https://t.me/s/x")
    else:
        parsed = parse_feed(body, {}, "https://feed.example/rss")
    found: dict[str, tuple[str, str]] = {}
    for it in parsed.items:  # items sharing one link are keyed apart; the bare link names the last, as it did
        if it.alias:
            found[it.alias] = (it.title, it.text)
        found[it.key] = (it.title, it.text)
    return found


@cache
def _shared_stories() -> dict[str, tuple[str, str]]:
    with (CORPUS / "stories" / "events.tsv").open(encoding="utf-8", newline="") as f:
        return {r["item_id"]: (r["title"], r["lead"]) for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)}


def load_items(with_corpus: bool) -> list[LabelledItem]:
    """The labelled items; rows from ../shared/corpus only when `with_corpus`."""
    out = []
    with DATA.open(encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            title, text, source = r["title"], r["text"], r["source"]
            if source.startswith("corpus:"):
                if not with_corpus:
                    continue
                path, _, key = source.removeprefix("corpus:").partition("#")
                title, text = _shared_stories()[key] if path == "stories/events.tsv" else _corpus_items(path)[key]
            topics = frozenset() if r["topics"] == "-" else frozenset(r["topics"].split(","))
            out.append(LabelledItem(r["id"], r["lang"], topics, title, text))
    return out


def scores(matcher: Matcher, items: list[LabelledItem]) -> dict[str, tuple[float, float, int, list[str]]]:
    """Per language: (precision, recall, positives, errors) of topic assignments."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    errors: dict[str, list[str]] = defaultdict(list)
    for it in items:
        got = {m.topic for m in matcher.match(it.title, it.text)}
        c = counts[it.lang]
        c[0] += len(got & it.topics)
        c[1] += len(got - it.topics)
        c[2] += len(it.topics - got)
        c[3] += bool(it.topics)
        if got != it.topics:
            errors[it.lang].append(f"{it.id} {it.title[:70]!r}: got {sorted(got)}, want {sorted(it.topics)}")
    return {
        lang: (tp / (tp + fp) if tp + fp else 1.0, tp / (tp + fn) if tp + fn else 1.0, pos, errors[lang])
        for lang, (tp, fp, fn, pos) in counts.items()
    }
