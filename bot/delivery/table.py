"""`once`'s hits as text for a terminal (pure): an aligned table, or stacked blocks where it is narrow.

Widths are terminal columns (wcwidth: a Hangul syllable or most emoji take two), so a row never
wraps. The column widths come from the config (every topic id and feed name), not from the hits,
so rows printed as each feed's poll ends stay aligned under one header. Titles are cut with "…" to
the width left; URLs are never cut (a cut URL is useless). With no width (output to a pipe or a
file) nothing is cut. Dates are read in the config's zone, named once in the header.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from wcwidth import clip, ljust, width

from bot.dates import format_when, zone_label
from bot.models import Hit

GAP = "  "
MAX_TOPIC = 20
MAX_FEED = 24
DATE_W = len("13 Jun 2025 14:00")  # the widest a date reads
MIN_TITLE = 30  # below this a row is stacked instead


def fit(text: str, columns: int | None) -> str:
    """At most `columns` terminal columns, cut with "…" (None: as it is)."""
    if columns is None or width(text) <= columns:
        return text
    return clip(text, 0, max(0, columns - 1)).rstrip() + "…"


def one_line(text: str) -> str:
    """Text from a feed on one line (line breaks and runs of spaces as one space)."""
    return " ".join(text.split())


@dataclass(frozen=True)
class HitTable:
    """Formats hits for a terminal `columns` wide (None: no limit)."""

    topic_w: int
    feed_w: int
    zone: str
    columns: int | None

    @classmethod
    def for_config(cls, topics: Iterable[str], feeds: Iterable[str], zone: str, columns: int | None) -> HitTable:
        """Column widths from every topic id and feed name the config has (capped)."""
        topic_w = min(MAX_TOPIC, max([len("TOPIC"), *(width(t) for t in topics)]))
        feed_w = min(MAX_FEED, max([len("FEED"), *(width(one_line(f)) for f in feeds)]))
        return cls(topic_w, feed_w, zone, columns)

    @property
    def title_w(self) -> int | None:
        """Columns left for the title (None: no limit)."""
        if self.columns is None:
            return None
        return self.columns - self.topic_w - self.feed_w - DATE_W - 3 * len(GAP)

    @property
    def stacked(self) -> bool:
        """True when the terminal is too narrow for the table: each hit is a block of lines."""
        return self.title_w is not None and self.title_w < MIN_TITLE

    def header(self) -> str:
        """The header line (the zone of the dates named once)."""
        note = f"dates in {zone_label(self.zone)}"
        if self.stacked:
            return fit(f"TOPIC · FEED · DATE ({note})", self.columns)
        head = GAP.join(
            [ljust("TOPIC", self.topic_w), ljust("FEED", self.feed_w), ljust("DATE", DATE_W), f"TITLE / URL ({note})"]
        )
        return fit(head, self.columns)

    def rows(self, hits: Sequence[Hit], now: datetime) -> list[str]:
        """The lines for these hits."""
        lines: list[str] = []
        for h in hits:
            when = format_when(h.published, now, self.zone, unknown="no date")
            topic, feed, title = one_line(h.topic), one_line(h.feed), one_line(h.title) or "(untitled)"
            if self.stacked:
                lines.append(fit(f"{topic} · {feed} · {when}", self.columns))
                lines.append("  " + fit(title, None if self.columns is None else self.columns - 2))
                if h.url:
                    lines.append(f"  {h.url}")
                continue
            cells = [ljust(fit(topic, self.topic_w), self.topic_w), ljust(fit(feed, self.feed_w), self.feed_w)]
            lead = GAP.join([*cells, ljust(when, DATE_W)]) + GAP
            lines.append(lead + fit(title, self.title_w))
            if h.url:
                lines.append(" " * width(lead) + h.url)
        return lines
