"""The fast feed path (bot.sources.fastrss): it reads a feed exactly as feedparser does, or refuses it.

Every feed of ../shared/corpus is read both ways and compared whole (items, keys, titles, links, texts,
dates, authors, the feed's title and notes); each refusal rule has a feed of its own here that needs it.
"""

from __future__ import annotations

import itertools
import random
from urllib.parse import urljoin

import pytest

from bot.errors import ParseError
from bot.models import ParsedFeed
from bot.sources.fastrss import Refused, read_fast, resolved
from bot.sources.rss import is_json_feed, parse_feed, parse_with_feedparser
from tests.conftest import CORPUS

URL = "https://feed.example/news/rss"
HEADER_SETS = [{}, {"Content-Type": "text/xml"}, {"Content-Type": "application/rss+xml; charset=utf-8"}]


def _corpus_feeds() -> list[str]:
    if not CORPUS.exists():
        return []
    return sorted(
        str(p.relative_to(CORPUS))
        for kind in ("news", "quirks", "other")
        for p in (CORPUS / kind).iterdir()
        if not p.name.endswith(".json")
    )


def _feedparser_reading(body: bytes, headers: dict[str, str]) -> ParsedFeed | str:
    lowered = {k.lower(): v for k, v in headers.items()} | {"content-location": URL}
    try:
        return parse_with_feedparser(body, lowered, URL)
    except ParseError as e:
        return f"{type(e).__name__}: {e}"


def _reading(body: bytes, headers: dict[str, str]) -> ParsedFeed | str:
    try:
        return parse_feed(body, headers, URL)
    except ParseError as e:
        return f"{type(e).__name__}: {e}"


def _is_fast(body: bytes, headers: dict[str, str]) -> bool:
    try:
        read_fast(body, {k.lower(): v for k, v in headers.items()} | {"content-location": URL})
    except Refused:
        return False
    return True


def test_every_corpus_feed_reads_as_feedparser_reads_it() -> None:
    names = _corpus_feeds()
    if not names:
        pytest.skip("../shared/corpus is not available in this checkout")
    fast = 0
    for name in names:
        body = (CORPUS / name).read_bytes()
        for headers in HEADER_SETS:
            assert _reading(body, headers) == _feedparser_reading(body, headers), (name, headers)
        fast += _is_fast(body, {})
    print(f"\nfast path: {fast} of {len(names)} corpus feeds")
    assert fast > 0


@pytest.mark.parametrize(
    "name",
    [
        "news/rssparser__guardian_us.rss.xml",
        "news/khan__kyunghyang_all_2018-04-06.rss.xml",
        "news/rssparser__heise_developer.atom.xml",
    ],
)
def test_plain_news_feeds_take_the_fast_path(name: str) -> None:
    path = CORPUS / name
    if not path.exists():
        pytest.skip(f"../shared/corpus/{name} is not available in this checkout")
    body = path.read_bytes()
    assert not is_json_feed(body)
    assert _is_fast(body, {})
    assert len(read_fast(body, {"content-location": URL}).items) > 10


def rss(items: str, channel: str = "", decl: str = '<?xml version="1.0" encoding="utf-8"?>', ns: str = "") -> bytes:
    return (
        f'{decl}<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom"'
        f' xmlns:media="http://search.yahoo.com/mrss/" xmlns:content="http://purl.org/rss/1.0/modules/content/"{ns}>'
        f"<channel><title>Wire</title><link>https://wire.example/</link>{channel}{items}</channel></rss>"
    ).encode()


ITUNES = ' xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"'


def atom(entries: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"'
        ' xmlns:media="http://search.yahoo.com/mrss/"><title>Wire</title><id>urn:wire</id>'
        f"<updated>2024-10-21T10:00:00Z</updated>{entries}</feed>"
    ).encode()


ITEM = (
    "<item><title>Storm reaches the coast</title><link>https://wire.example/a/1</link><guid>https://wire.example/a/1</guid>"
    "<pubDate>Mon, 21 Oct 2024 10:00:00 GMT</pubDate><description>&lt;p&gt;Winds of 120 km/h.&lt;/p&gt;</description></item>"
)
MEDIA = "<media:description>{}</media:description></item>"
ENTRY = (
    "<entry><title>Storm reaches the coast</title><link href='https://wire.example/a/1'/><id>urn:a:1</id>"
    "<published>2024-10-21T10:00:00+02:00</published><updated>2024-10-22T09:00:00Z</updated>"
    "<summary type='html'>&lt;p&gt;Winds.&lt;/p&gt;</summary><author><name>Ann Lee</name></author></entry>"
)

# (what, body, headers, why the fast path refuses it)
REFUSED = [
    ("HTML content type", rss(ITEM), {"Content-Type": "text/html"}, "content type text/html"),
    ("charset not UTF-8", rss(ITEM), {"Content-Type": "text/xml; charset=windows-1251"}, "charset windows-1251"),
    ("declared encoding", rss(ITEM, decl='<?xml version="1.0" encoding="ISO-8859-1"?>'), {}, "encoding iso-8859-1"),
    ("UTF-16", rss(ITEM).decode().replace("utf-8", "utf-16").encode("utf-16"), {}, "UTF-16"),
    ("DOCTYPE", rss(ITEM, decl='<!DOCTYPE rss [<!ENTITY w "Wire">]>'), {}, "DOCTYPE"),
    ("xml:base", rss(ITEM.replace("<item>", '<item xml:base="https://other.example/">')), {}, "xml:base"),
    ("HTML entity", rss(ITEM.replace("Storm", "Storm&nbsp;")), {}, "not well-formed"),
    ("broken XML", rss(ITEM)[:-30], {}, "not well-formed"),
    ("undeclared prefix", rss(ITEM.replace("</item>", "<itunes:duration>3</itunes:duration></item>")), {}, "not well-formed"),
    ("RDF", b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><item/></rdf:RDF>', {}, "format"),
    ("Atom 0.3", atom(ENTRY).replace(b"http://www.w3.org/2005/Atom", b"http://purl.org/atom/ns#"), {}, "format"),
    (
        "item outside the channel",
        rss(ITEM).replace(b"</channel></rss>", b"</channel>" + ITEM.encode() + b"</rss>"),
        {},
        "outside",
    ),
    (
        "markup in a description",
        rss(ITEM.replace("&lt;p&gt;Winds", "<p>Winds</p>")),
        {},
        "markup or an encoding mode in <description>",
    ),
    ("comment in a title", rss(ITEM.replace("Storm reaches", "Storm <!-- x --> reaches")), {}, "markup inside <title>"),
    ("repeated title", rss(ITEM.replace("</item>", "<title>Again</title></item>")), {}, "repeats <title>"),
    (
        "media:title in a group, no title of its own",
        atom(ENTRY.replace("<title>Storm reaches the coast</title>", "<media:group><media:title>T</media:title></media:group>")),
        {},
        "no title of its own",
    ),
    ("media:title beside the title", atom(ENTRY.replace("</entry>", "<media:title>T</media:title></entry>")), {}, "media:title"),
    (
        "alternate atom:link in RSS",
        rss(ITEM.replace("</item>", "<atom:link href='https://wire.example/b'/></item>")),
        {},
        "atom:link",
    ),
    (
        "dcterms date",
        rss(
            ITEM.replace("</item>", "<dcterms:modified>2024-01-01</dcterms:modified></item>"),
            ns=' xmlns:dcterms="http://purl.org/dc/terms/"',
        ),
        {},
        "dcterms:modified",
    ),
    ("Atom author with an email", atom(ENTRY.replace("</name>", "</name><email>ann@wire.example</email>")), {}, "email"),
    (
        "itunes:author and dc:creator",
        rss(ITEM.replace("</item>", "<itunes:author>Ann</itunes:author><dc:creator>Bo</dc:creator></item>"), ns=ITUNES),
        {},
        "author twice",
    ),
    ("no content type, no declaration", rss(ITEM.replace("Storm", "Tempête"), decl=""), {"ETag": '"1"'}, "iso-8859-1"),
    ("text/xml, no declaration", rss(ITEM.replace("Storm", "Tempête"), decl=""), {"Content-Type": "text/xml"}, "us-ascii"),
    (
        "base64 content",
        atom(ENTRY.replace("</entry>", "<content type='application/octet-stream'>SGk=</content></entry>")),
        {},
        "base64",
    ),
    ("content at the channel level", rss(ITEM, channel="<content:encoded>x</content:encoded>"), {}, "channel"),
    (
        "nesting deeper than libxml2 allows",
        rss(ITEM.replace("</item>", "<x:a>" * 300 + "</x:a>" * 300 + "</item>"), ns=' xmlns:x="urn:x"'),
        {},
        "not well-formed",
    ),
    ("an empty <link>", rss(ITEM.replace("<link>https://wire.example/a/1</link>", "<link></link>")), {}, "empty <link>"),
    (
        "Atom link without href",
        atom(ENTRY.replace("<link href='https://wire.example/a/1'/>", "<link>https://wire.example/a/1</link>")),
        {},
        "without href",
    ),
    ("an item's <Link> in capitals", rss(ITEM.replace("</item>", "<Link>https://wire.example/b</Link></item>")), {}, "<Link>"),
]


@pytest.mark.parametrize(("what", "body", "headers", "why"), REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_feeds_are_read_by_feedparser(what: str, body: bytes, headers: dict[str, str], why: str) -> None:
    with pytest.raises(Refused, match=why):
        read_fast(body, {k.lower(): v for k, v in headers.items()} | {"content-location": URL})
    assert _reading(body, headers) == _feedparser_reading(body, headers)


# Feeds the fast path reads, each where feedparser has a rule of its own that the fast path must follow.
ACCEPTED = [
    ("plain RSS", rss(ITEM)),
    (
        "guid that is not a link, no <link>",
        rss(ITEM.replace("<link>https://wire.example/a/1</link>", "").replace("<guid>", '<guid isPermaLink="false">')),
    ),
    ("relative guid (feedparser resolves it)", rss(ITEM.replace("<guid>https://wire.example/a/1", "<guid>a-1"))),
    ("guid as the only link", rss(ITEM.replace("<link>https://wire.example/a/1</link>", ""))),
    ("relative link", rss(ITEM.replace("<link>https://wire.example/a/1", "<link>/a/1"))),
    ("protocol-relative link", rss(ITEM.replace("<link>https://wire.example/a/1", "<link>//wire.example/a/1"))),
    ("link escaped twice", rss(ITEM.replace("a/1</link>", "a?x=1&amp;amp;y=2</link>"))),
    ("date without a time", rss(ITEM.replace("Mon, 21 Oct 2024 10:00:00 GMT", "Mon, 21 Oct 2024"))),
    ("midnight in its own zone", rss(ITEM.replace("10:00:00 GMT", "00:00:00 +0300"))),
    ("unreadable date", rss(ITEM.replace("Mon, 21 Oct 2024 10:00:00 GMT", "sometime soon"))),
    (
        "dc:date only",
        rss(ITEM.replace("<pubDate>Mon, 21 Oct 2024 10:00:00 GMT</pubDate>", "<dc:date>2024-10-21T08:00:00Z</dc:date>")),
    ),
    ("pubDate and dc:date", rss(ITEM.replace("</item>", "<dc:date>2024-10-01T08:00:00Z</dc:date></item>"))),
    ("title with an entity", rss(ITEM.replace("Storm reaches", "AT&amp;T storm reaches"))),
    ("title with escaped markup", rss(ITEM.replace("Storm reaches", "&lt;b&gt;Storm&lt;/b&gt; reaches"))),
    ("no title", rss(ITEM.replace("<title>Storm reaches the coast</title>", ""))),
    (
        "content:encoded",
        rss(
            ITEM.replace(
                "</item>", "<content:encoded><![CDATA[<p>Winds of 120 km/h hit the town.</p>]]></content:encoded></item>"
            )
        ),
    ),
    (
        "self atom:link and media",
        rss(
            ITEM.replace(
                "</item>",
                "<atom:link rel='self' href='https://x.example/'/><media:content url='https://x.example/i.jpg'/></item>",
            )
        ),
    ),
    ("author with an email", rss(ITEM.replace("</item>", "<author>ann@wire.example (Ann Lee)</author></item>"))),
    ("UTF-8 read as Latin-1", rss(ITEM.replace("Storm", "Ã©tÃ©"))),
    ("C1 control character", rss(ITEM.replace("Storm", "Storm\u0096"))),
    (
        "shared links",
        rss(ITEM + ITEM.replace("Storm reaches", "Flood follows").replace("<guid>https://wire.example/a/1</guid>", "")),
    ),
    ("no items", rss("")),
    ("ASCII without declaration or content type", rss(ITEM, decl="")),
    ("itunes:author", rss(ITEM.replace("</item>", "<itunes:author>Ann Lee</itunes:author></item>"), ns=ITUNES)),
    (
        "media:title in a group after the title",
        atom(ENTRY.replace("</entry>", "<media:group><media:title>Other</media:title></media:group></entry>")),
    ),
    (
        "media:title in a group before the title",
        atom(ENTRY.replace("<title>", "<media:group><media:title>Other</media:title></media:group><title>")),
    ),
    (
        "media:description longer than the description",
        rss(ITEM.replace("</item>", MEDIA.format("A caption longer than the text"))),
    ),
    ("media:description shorter than the description", rss(ITEM.replace("</item>", MEDIA.format("Caption")))),
    (
        "media:description first",
        rss(ITEM.replace("<description>", MEDIA.format("A caption longer than the text")[:-7] + "<description>")),
    ),
    (
        "media:description after content:encoded",
        rss(
            ITEM.replace(
                "</item>", "<content:encoded>Full text</content:encoded>" + MEDIA.format("A long caption, longer than all")
            )
        ),
    ),
    (
        "two media:descriptions",
        rss(ITEM.replace("</item>", MEDIA.format("One")[:-7] + MEDIA.format("Another caption, the longest one"))),
    ),
    (
        "media:description nested",
        rss(
            ITEM.replace(
                "</item>",
                "<media:content url='https://x.example/i.jpg'>"
                + MEDIA.format("A caption nested in the media, long")[:-7]
                + "</media:content></item>",
            )
        ),
    ),
    (
        "nested media:description first",
        rss(
            ITEM.replace(
                "<title>",
                "<media:group><media:description>Nested caption first and long</media:description></media:group><title>",
            )
        ),
    ),
    (
        "itunes:summary and subtitle",
        rss(
            ITEM.replace(
                "</item>",
                "<itunes:summary>An episode summary, long enough to win</itunes:summary><itunes:subtitle>Sub</itunes:subtitle></item>",
            ),
            ns=ITUNES,
        ),
    ),
    ("Atom", atom(ENTRY)),
    ("Atom, updated when published is unreadable", atom(ENTRY.replace("2024-10-21T10:00:00+02:00", "yesterday"))),
    (
        "Atom without a link (the id is)",
        atom(ENTRY.replace("<link href='https://wire.example/a/1'/>", "").replace("urn:a:1", "https://wire.example/a/1")),
    ),
    ("Atom html title", atom(ENTRY.replace("<title>Storm", "<title type='html'>&lt;b&gt;Storm"))),
    ("Atom links of other types", atom(ENTRY.replace("<link ", "<link rel='enclosure' href='https://x.example/a.mp3'/><link "))),
]


@pytest.mark.parametrize(("what", "body"), ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_fast_path_reads_as_feedparser(what: str, body: bytes) -> None:
    headers = {"content-location": URL}
    assert read_fast(body, dict(headers)) == parse_with_feedparser(body, dict(headers), URL)
    assert parse_feed(body, {}, URL) == parse_with_feedparser(body, dict(headers), URL)


TEXTS = {
    "description": "<description>Desc {}</description>",
    "content:encoded": "<content:encoded>&lt;p&gt;Encoded {}&lt;/p&gt;</content:encoded>",
    "media:description": "<media:description>Caption {}</media:description>",
    "nested media:description": "<media:content url='https://x.example/i.jpg'><media:description>Nested {}</media:description></media:content>",
    "itunes:summary": "<itunes:summary>Summary {}</itunes:summary>",
}
ORDERS = [order for size in (1, 2, 3) for order in itertools.permutations(TEXTS, size)]


@pytest.mark.parametrize("order", ORDERS, ids=["+".join(o) for o in ORDERS])
def test_summary_and_content_filed_as_feedparser_files_them(order: tuple[str, ...]) -> None:
    # feedparser's first summary-like element is the summary, the next becomes content unless content was
    # seen, later ones replace the summary unless nested deeper; the item's text is the longer of the two.
    lengths = random.Random("+".join(order))
    for _ in range(2):
        texts = "".join(TEXTS[name].format("x" * lengths.randint(0, 12)) for name in order)
        body = rss(f"<item><title>T</title><link>https://wire.example/1</link>{texts}</item>", ns=ITUNES)
        headers = {"content-location": URL}
        assert read_fast(body, dict(headers)) == parse_with_feedparser(body, dict(headers), URL)


LINKS = [
    ("pdf alternate only", "<link rel='alternate' type='application/pdf' href='https://wire.example/a.pdf'/>"),
    ("pdf alternate, then html", "<link type='application/pdf' href='/a.pdf'/><link href='/a.html'/>"),
    ("rel and type in capitals", "<link rel='ALTERNATE' type='TEXT/HTML' href='https://wire.example/caps'/>"),
    ("non-ASCII href", "<link href='https://wire.example/caf\u00e9'/>"),
    ("related only", "<link rel='related' href='https://wire.example/r'/>"),
]


@pytest.mark.parametrize(("what", "links"), LINKS, ids=[w for w, _ in LINKS])
def test_atom_links_chosen_as_feedparser_chooses_them(what: str, links: str) -> None:
    body = atom(f"<entry><title>T</title>{links}<updated>2024-10-21T10:00:00Z</updated></entry>")
    headers = {"content-location": URL}
    assert read_fast(body, dict(headers)) == parse_with_feedparser(body, dict(headers), URL)


@pytest.mark.parametrize(
    ("text", "remembered"),
    [
        ("Mon, 21 Oct 2024 10:00:00 GMT", True),
        ("21 Oct 2024 10:00 +0300", True),
        ("2024-10-21T10:00:00.5+02:00", True),
        ("2024-10-21T10:00:00Z", True),
        ("Mon, 21 Oct 2024", False),  # a date without a time or a zone: feedparser's rules decide
        ("2024-10", False),  # a partial ISO date: feedparser fills the rest from the clock
        ("21 Oct 24 10:00 EST", False),
        ("not a date", False),
    ],
)
def test_a_date_reads_as_feedparser_reads_it_and_only_a_full_one_is_remembered(text: str, remembered: bool) -> None:
    from feedparser.datetimes import _parse_date

    from bot.sources import feedrules
    from bot.sources.feeditems import struct_to_dt

    before = feedrules._full_date.cache_info()
    assert feedrules.parse_date(text) == struct_to_dt(_parse_date(text))
    assert feedrules.parse_date(text) == struct_to_dt(_parse_date(text))
    after = feedrules._full_date.cache_info()
    assert (after.hits + after.misses > before.hits + before.misses) is remembered


def test_a_changed_body_reads_only_the_item_elements_the_body_before_lacked() -> None:
    skipping = 0
    for name in _corpus_feeds():
        body = (CORPUS / name).read_bytes()
        headers = {"content-location": URL}
        if is_json_feed(body) or not _is_fast(body, {}):
            continue
        full = read_fast(body, headers)
        assert full.element_digests is not None and full.skipped == 0
        before = set(full.element_digests[1:])  # the body stored before had every item but the first
        again = read_fast(body, headers, before)
        assert again.element_digests == full.element_digests, name
        if again.skipped:  # the other items were read before: only the first element is read now
            skipping += 1
            assert again.skipped == len(full.element_digests) - 1, name
            assert len(again.items) <= 1 and all(it in full.items for it in again.items), name
        else:  # two items share a link, guid or id: each one's key depends on the others, all are read
            assert again.items == full.items, name
    assert skipping >= 10 or not _corpus_feeds()


@pytest.mark.parametrize(
    "second",
    [
        "<item><title>B</title><link>https://n.example/a</link></item>",  # the same link as the first
        "<item><title>B</title><guid>https://n.example/a</guid></item>",  # a guid naming the first's link
        "<item><title>B</title><link>/a</link></item>",  # the same link once resolved
    ],
)
def test_items_sharing_a_link_are_all_read_again(second: str) -> None:
    first = "<item><title>A</title><link>https://n.example/a</link></item>"
    body = f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>{first}{second}</channel></rss>'
    headers = {"content-location": "https://n.example/feed"}
    full = read_fast(body.encode(), headers)
    assert full.element_digests is not None
    again = read_fast(body.encode(), headers, set(full.element_digests))
    assert again.skipped == 0 and again.items == full.items


@pytest.mark.parametrize("base", ["https://x.example/news/rss", "http://x.example/dir/feed.xml?x=1#f", "http://x.example", ""])
@pytest.mark.parametrize(
    "value", ["item-42", "a;b=c&d", "x%20y", "é", "..", "a/b", "/a", "?q", "#f", "a:b", "//h/x", "a b", "https://z/y"]
)
def test_a_link_or_guid_is_resolved_as_urljoin_resolves_it(base: str, value: str) -> None:
    assert resolved(value, base, urljoin(base, ".") if base else "") == urljoin(base, value)
