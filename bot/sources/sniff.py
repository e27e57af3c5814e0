"""What a body that is not a feed looks like, in words an admin can act on (pure).

Feeds are XML or JSON. When the parser finds no feed in a body, these rules say what it is instead,
first match wins: nothing at all; a PDF, an image or another binary file (by magic bytes, then by
Content-Type); an HTML page (a doctype, an <html>, <head> or <body> tag near the start, or text/html);
JSON; other XML gets no description (it may be a feed broken on the way: the XML parser's own error
says more); plain text (it decodes as UTF-8, every character printable); else binary data.
"""

from __future__ import annotations

import re

_HEAD = 2048
_MAGIC = (
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\x1f\x8b", "a gzip file"),
)
_HTML = re.compile(rb"<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]", re.I)


def describe_body(body: bytes, content_type: str = "") -> str | None:
    """'an HTML page', 'plain text', 'a JSON document, not a JSON Feed', 'an empty response', ...: what
    a body that is not a feed looks like; None when it looks like XML."""
    head = body[:_HEAD].lstrip(b"\xef\xbb\xbf \t\r\n")
    mime = content_type.split(";", 1)[0].strip().lower()
    if not head:
        return "an empty response"
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    if mime.startswith("image/"):
        return "an image"
    if _HTML.search(head) or mime in ("text/html", "application/xhtml+xml"):
        return "an HTML page"
    if head[:1] in (b"{", b"["):
        return "a JSON document, not a JSON Feed"
    if head.startswith(b"<"):
        return None
    if _is_text(body[: _HEAD * 4]):
        return "plain text"
    return "binary data"


def _is_text(sample: bytes) -> bool:
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(sample) - 4:  # not just a character cut at the sample's end
            return False
        text = sample[: e.start].decode("utf-8")
    return all(c.isprintable() or c in "\t\r\n\f" for c in text)
