"""What a body that is not a feed looks like (bot/sources/sniff.py), and the parser's refusal."""

from __future__ import annotations

import pickle

import pytest

from bot.errors import NotAFeed, ParseError
from bot.sources.rss import parse_feed
from bot.sources.sniff import describe_body
from tests.conftest import ROOT


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b"", "text/html", "an empty response"),
        (b"  \r\n", "", "an empty response"),
        (b"%PDF-1.7\n...", "application/octet-stream", "a PDF document"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "", "a JPEG image"),
        (b"GIF89a...", "text/html", "a GIF image"),  # magic bytes win over a wrong Content-Type
        (b"RIFF....WEBPVP8 ", "image/webp", "an image"),
        (b"<!DOCTYPE html>\n<html lang=en>", "", "an HTML page"),
        (b"\xef\xbb\xbf<html><body>hi</body></html>", "", "an HTML page"),
        (b"<div>fragment</div>", "text/html; charset=utf-8", "an HTML page"),
        (b'{"version": 1}', "application/json", "a JSON document, not a JSON Feed"),
        (b"[1, 2]", "", "a JSON document, not a JSON Feed"),
        (b"<?xml version='1.0'?><rss><channel>", "application/rss+xml", None),  # broken XML: the parser says more
        (b"<feed xmlns='http://www.w3.org/2005/Atom'>", "", None),
        ("# Заголовок\n\nПросто текст, 북한 😀\n".encode(), "text/plain", "plain text"),
        (b"line one\nline two\x00\x01\x02 binary", "", "binary data"),
        (bytes(range(256)), "", "binary data"),
    ],
)
def test_describe_body(body: bytes, content_type: str, expected: str | None) -> None:
    assert describe_body(body, content_type) == expected


def test_a_text_file_cut_inside_a_character_is_still_text() -> None:
    body = ("Песков " * 2000).encode()  # the sample's end falls inside a two-byte letter
    assert describe_body(body) == "plain text"


@pytest.mark.parametrize(
    ("body", "content_type", "error"),
    [
        (ROOT.joinpath("README.md").read_bytes(), "text/plain", "parser: not a feed (it looks like plain text)"),
        (b"<html><body><p>Hello</p></body></html>", "text/html", "parser: not a feed (it looks like an HTML page)"),
        (b"<?xml version='1.0'?><nothing/>", "text/xml", "parser: not a feed (no RSS, Atom, RDF or JSON Feed found)"),
    ],
)
def test_parse_feed_says_what_it_got(body: bytes, content_type: str, error: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_feed(body, {"Content-Type": content_type}, "https://x.example/f")
    assert str(caught.value) == error


def test_a_broken_xml_feed_keeps_the_xml_parsers_words() -> None:
    with pytest.raises(ParseError) as caught:
        parse_feed(b"<?xml version='1.0'?><rss version='2.0'><channel><title>x</title><<<", {}, "https://x.example/f")
    assert not isinstance(caught.value, NotAFeed) and "SAXParseException" in str(caught.value)


def test_not_a_feed_crosses_a_process_boundary_whole() -> None:
    again = pickle.loads(pickle.dumps(NotAFeed("plain text")))
    assert isinstance(again, NotAFeed) and again.looks_like == "plain text"
    assert str(again) == "parser: not a feed (it looks like plain text)"
