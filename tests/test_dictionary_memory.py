"""The lemma dictionaries a poll holds: the Russian and Ukrainian ones (about 45 MB) only once a Cyrillic
word arrives, the English and French ones through simplemma's low-memory backend (a few MB, not 45)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bot.matching.matcher import Matcher, index_text
from bot.models import Topic
from tests.conftest import ROOT
from tests.feedserver import FeedServer, rss
from tests.procs import probe_once


def test_cyrillic_terms_wait_for_a_cyrillic_text_and_then_match() -> None:
    m = Matcher([Topic("peskov", "Peskov", 'peskov OR "kremlin заявил" OR (песков кремль)')])
    assert not m.cyrillic_ready
    assert [x.terms for x in m.match("Peskov met reporters", "")] == [("peskov",)]
    assert not m.may_match(["kremlin", "said"]) and not m.cyrillic_ready
    assert not m.may_match(["заявил"]) and m.cyrillic_ready
    assert m.may_match(["kremlin"])  # "kremlin заявил" starts with a Latin word: the lookups cached before are dropped
    assert [x.terms for x in m.match("Kremlin заявил", "")] == [('"kremlin заявил"',)]
    assert [x.terms for x in m.match("Пескова спросили в Кремле", "")] == [("песков", "кремль")]
    fresh = Matcher([Topic("peskov", "Peskov", "песков кремль")])  # a Cyrillic text indexes them on its own too
    assert [x.terms for x in fresh.match_index(index_text("Песков в Кремле", ""))] == [("песков", "кремль")]
    assert fresh.cyrillic_ready


PROBE = """
import asyncio, json, sys
from pathlib import Path
from bot.config import load_config
from bot.matching import lemmas
from bot.sources.parsing import ParserPool

def rss_kb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4

def body(title):
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title><item>'
            f'<title>{title}</title><link>https://n.example/{len(title)}</link></item></channel></rss>').encode()

async def main():
    topics = tuple(load_config(Path(sys.argv[1])).topics)  # the shipped topics: Latin, Cyrillic and Hangul words
    out = {}
    before = rss_kb()
    lemmas.lemma("troops"), lemmas.lemma("troupes")
    out["latin_kb"] = rss_kb() - before
    async with ParserPool(1, topics) as pool:
        pool.cyrillic_at_need = True
        parsed = await pool.parse("rss", body("Kremlin spokesman Peskov said"), {}, "https://n.example/f")
        rules = await pool.story_rules()
        out["english"] = [m.topic for ms in parsed.matches.values() for m in ms]
        out["english_cyrillic"] = parsed.cyrillic
        out["english_keys"] = sorted(rules.query_keys(["peskov"]))
        out["english_pymorphy"] = "pymorphy3" in sys.modules
        parsed = await pool.parse("rss", body("Пескова спросили в Кремле"), {}, "https://n.example/f")
        out["russian"] = [m.topic for ms in parsed.matches.values() for m in ms]
        out["same_rules"] = await pool.story_rules() is rules
        out["russian_keys"] = sorted(rules.query_keys(["peskov"]))
    async with ParserPool(1, topics) as pool:  # a store that holds stories: the rules have every word at once
        out["complete_keys"] = sorted((await pool.story_rules()).query_keys(["peskov"]))
    print(json.dumps(out))

asyncio.run(main())
"""


def test_a_pool_loads_the_cyrillic_dictionaries_when_a_cyrillic_word_arrives_and_the_latin_ones_small() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(ROOT / "feeds.yaml")], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["latin_kb"] < 15_000, "the English and French dictionaries as simplemma's default dicts take ~45 MB"
    assert report["english"] == ["peskov"] and not report["english_cyrillic"] and not report["english_pymorphy"]
    assert "peskov" in report["english_keys"] and "дмитрий" not in report["english_keys"]
    assert report["russian"] == ["peskov"] and report["same_rules"]
    assert report["russian_keys"] == report["complete_keys"] and "дмитрий" in report["complete_keys"]


def test_polls_of_english_feeds_load_no_cyrillic_dictionary_until_a_cyrillic_word_arrives(
    tmp_path: Path, server: FeedServer
) -> None:
    items = [{"title": "Kremlin spokesman Dmitry Peskov said", "link": "https://n.example/1"}]
    url = server.set("/f", body=rss(items))
    topics = (ROOT / "feeds.yaml").read_text(encoding="utf-8").split("\nfeeds:", 1)[0]
    config = tmp_path / "feeds.yaml"
    config.write_text(f"{topics}\nfeeds:\n  - name: N\n    url: {url}\n", encoding="utf-8")
    probe = (
        "import json, sys\nfrom bot.__main__ import main\ncode = main(sys.argv[1:])\n"
        "print(json.dumps({'code': code, 'pymorphy3': 'pymorphy3' in sys.modules}))"
    )
    argv = ["once", "--json", "--config", str(config), "--db", str(tmp_path / "nw.db")]
    env = {"NEWSWATCH_ALLOW_PRIVATE_URLS": "1", "NEWSWATCH_PARSE_WORKERS": "1", "PATH": "/usr/bin:/bin"}

    def once() -> tuple[dict[str, object], list[str]]:
        return probe_once(probe, argv, env, timeout=60)

    assert once() == ({"code": 0, "pymorphy3": False}, [items[0]["title"]])
    items.append({"title": "Peskov said it again", "link": "https://n.example/2"})  # the store holds stories now
    server.set("/f", body=rss(items))
    assert once() == ({"code": 0, "pymorphy3": False}, [items[1]["title"]])
    items.append({"title": "Песков ответил в Кремле", "link": "https://n.example/3"})
    server.set("/f", body=rss(items))
    assert once() == ({"code": 0, "pymorphy3": True}, [items[2]["title"]])


def test_a_parse_works_out_the_language_and_weights_of_matched_items_only() -> None:
    from bot.sources import parseworker

    parseworker._init_worker((Topic("peskov", "Peskov", "peskov"),))
    body = rss(
        [{"title": "Peskov spoke to reporters", "guid": "urn:n:1"}, {"title": "Rain expected on Monday", "guid": "urn:n:2"}]
    )
    parsed = parseworker.parse_and_match("rss", body, {}, "https://n.example/f", "N")
    assert [m.topic for m in parsed.matches["urn:n:1"]] == ["peskov"] and parsed.matches["urn:n:2"] == []
    assert parsed.terms["urn:n:1"][1] == "en" and ":" in parsed.terms["urn:n:1"][0]  # weighed terms, for its story
    assert parsed.terms["urn:n:2"] == ("rain expect monday", "", "")  # keys alone, for their rarity; no language
