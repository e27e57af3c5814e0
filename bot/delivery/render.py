"""Text shown to people (pure): hit lines for the console and the once table."""

from __future__ import annotations

from collections.abc import Sequence

from bot.models import Hit


def render_console_hit(hit: Hit, topic_name: str | None = None) -> str:
    """A readable block for one new hit (console delivery)."""
    when = hit.published.strftime("%Y-%m-%d %H:%M UTC") if hit.published else "date unknown"
    lines = [
        f"[{topic_name or hit.topic}] {hit.title}",
        f"    {hit.feed} · {when} · story {hit.story_id} · matched: {', '.join(hit.matched)}",
    ]
    if hit.url:
        lines.append(f"    {hit.url}")
    return "\n".join(lines)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def render_table(hits: Sequence[Hit], width: int = 120) -> str:
    """Hits as an aligned text table (topic, feed, title, url)."""
    if not hits:
        return ""
    topic_w = min(24, max(len(h.topic) for h in hits))
    feed_w = min(24, max(len(h.feed) for h in hits))
    title_w = max(20, width - topic_w - feed_w - 6)
    rows = [f"{'TOPIC':<{topic_w}}  {'FEED':<{feed_w}}  TITLE / URL"]
    for h in hits:
        rows.append(f"{_cut(h.topic, topic_w):<{topic_w}}  {_cut(h.feed, feed_w):<{feed_w}}  {_cut(h.title, title_w)}")
        if h.url:
            rows.append(f"{'':<{topic_w}}  {'':<{feed_w}}  {h.url}")
    return "\n".join(rows)
