"""Text shown to people (pure): HTML escaping and splitting for Telegram. Alerts, bursts, digests
and story pages are composed in bot/delivery/messages.py; console hits and the once table in table.py.

Telegram messages are HTML (parse_mode=HTML) built from a few tags of our own; every string that
comes from a feed or a user is escaped with html.escape, and titles are shortened before escaping,
so no cut ever falls inside a tag or an entity. Lengths are counted in UTF-16 code units, as
Telegram counts them: a message is at most 4096 of them, and long digests split between items. Text a
user typed is echoed through `echo` (escaped, cut with an ellipsis), and every reply passes `split_html`,
which cuts at line breaks, never inside a tag or an entity, closing open tags before a cut and reopening
them after it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

MAX_MESSAGE = 4096
TITLE_MAX = 300
ECHO_MAX = 64  # characters of a user's input quoted back in a reply
MAX_PARTS = 5  # messages one reply may take; the rest is cut with an ellipsis
_ATOM = re.compile(r"<[^>]*>|&#?\w+;|\n|[^<&\n]{1,16}|[<&]")
_TAG = re.compile(r"<(/?)([a-zA-Z][\w-]*)")


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units: an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def esc(text: str) -> str:
    """Escape a feed- or user-supplied string for Telegram HTML."""
    return html.escape(text, quote=False)


def html_to_plain(text: str) -> str:
    """Our HTML back to plain text (the fallback when Telegram rejects the markup); links keep their URL."""
    text = re.sub(r'<a href="([^"]*)">(.*?)</a>', r"\2 — \1", text, flags=re.S)
    return html.unescape(re.sub(r"<[^>]*>", "", text))


def clip(text: str, limit: int) -> str:
    """At most `limit` characters: longer text is cut and ends with an ellipsis."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def echo(text: str, limit: int = ECHO_MAX) -> str:
    """A user's input quoted back in a reply: cut to `limit` characters with an ellipsis, then escaped."""
    return esc(clip(text, limit))


def split_html(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Telegram HTML as messages of at most `limit` UTF-16 units: cut at a line break where one is in
    the message, never inside a tag or an entity; tags open at a cut are closed before it and reopened
    after it."""
    if utf16_len(text) <= limit:
        return [text]
    parts: list[str] = []
    cur: list[str] = []
    stack: list[tuple[str, str]] = []  # (tag name, its opening tag) of the tags open at the end of cur
    line_break: tuple[int, list[tuple[str, str]]] | None = None  # the last "\n" in cur, with the tags open there
    size = 0
    for atom in _ATOM.findall(text):
        after = _after(stack, atom)
        while cur and size + utf16_len(atom) + _closers_len(after) > limit:
            part, cur = _split_off(cur, stack, line_break)
            parts.append(part)
            size, line_break = sum(map(utf16_len, cur)), None
            if all(_is_opening(x) for x in cur):  # nothing left to move: the atom goes in
                break
        if atom == "\n":
            line_break = (len(cur), stack)
        cur.append(atom)
        size += utf16_len(atom)
        stack = after
    parts.append("".join(cur) + _closers(stack))
    return [p for p in parts if html_to_plain(p).strip()]


def _split_off(
    cur: list[str], stack: list[tuple[str, str]], line_break: tuple[int, list[tuple[str, str]]] | None
) -> tuple[str, list[str]]:
    """One message from the start of `cur` (to its last line break, or all of it but the tags just
    opened), and what the next message starts with."""
    if line_break is not None:
        at, open_at = line_break
        rest = cur[at + 1 :]
    else:
        at, open_at = len(cur), stack
        while at > 0 and _is_opening(cur[at - 1]) and len(open_at) > 0:
            at, open_at = at - 1, open_at[:-1]
        rest = cur[at:]
    return "".join(cur[:at]) + _closers(open_at), [opening for _, opening in open_at] + rest


def _is_opening(atom: str) -> bool:
    tag = _TAG.match(atom)
    return tag is not None and not tag.group(1) and atom.endswith(">")


def cap_html(text: str, limit: int = MAX_MESSAGE, max_parts: int = 1) -> list[str]:
    """`split_html`, keeping at most `max_parts` messages; the last kept one ends with an ellipsis."""
    parts = split_html(text, limit)
    if len(parts) <= max_parts:
        return parts
    kept = split_html(text, limit - 1)[:max_parts]
    return [*kept[:-1], kept[-1] + "…"]


def _after(stack: list[tuple[str, str]], atom: str) -> list[tuple[str, str]]:
    """The open tags after `atom`."""
    tag = _TAG.match(atom)
    if tag is None or not atom.endswith(">"):
        return stack
    name = tag.group(2).lower()
    if not tag.group(1):
        return [*stack, (name, atom)]
    for i in range(len(stack) - 1, -1, -1):
        if stack[i][0] == name:
            return stack[:i] + stack[i + 1 :]
    return stack


def _closers(stack: list[tuple[str, str]]) -> str:
    return "".join(f"</{name}>" for name, _ in reversed(stack))


def _closers_len(stack: list[tuple[str, str]]) -> int:
    return sum(len(name) + 3 for name, _ in stack)


def shorten(text: str, limit: int = TITLE_MAX) -> str:
    """One line of at most `limit` characters, cut at a word when possible."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut) + "…"


def split_message(blocks: Sequence[str], limit: int = MAX_MESSAGE) -> list[str]:
    """Join blocks (HTML) with newlines into as few messages as fit `limit` UTF-16 units. A block is
    never split; one too long for a message alone is sent as shortened plain text, so no cut ever
    falls inside a tag."""
    messages: list[str] = []
    current: list[str] = []
    size = 0
    for block in blocks:
        if utf16_len(block) > limit:
            block = esc(shorten(html_to_plain(block), limit // 4))
        cost = utf16_len(block) + (1 if current else 0)
        if current and size + cost > limit:
            messages.append("\n".join(current))
            current, size, cost = [], 0, utf16_len(block)
        current.append(block)
        size += cost
    if current:
        messages.append("\n".join(current))
    return messages
