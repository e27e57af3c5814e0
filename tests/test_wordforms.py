"""Word forms analysed from the lemma dictionaries are kept in SQLite: a later process that meets only
words seen before loads no dictionary, and finds exactly what the dictionaries would have found."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from bot.matching import lemmas
from storage.db import open_database
from storage.wordforms import WordForms, save_word_forms
from tests.conftest import ROOT
from tests.feedserver import FeedServer, rss
from tests.procs import probe_once

WORDS = ["северокорейских", "военных", "Пескова".casefold(), "рютте", "північнокорейських", "військових", "troops",
         "troupes", "nord", "coréennes", "peskov", "northern", "песков", "песок", "песковский"]  # fmt: skip

PROBE = """
import json, sys
from bot.__main__ import main
code = main(sys.argv[1:])
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {"pymorphy3", "simplemma"})
print(json.dumps({"code": code, "loaded": loaded, "workers": "multiprocessing.popen_spawn_posix" in sys.modules}))
"""


def test_a_stored_analysis_gives_the_keys_the_dictionaries_give() -> None:
    fresh = {w: lemmas.encode_analysis(lemmas._analyse_now(w)) for w in WORDS}
    for word, text in fresh.items():
        assert lemmas.decode_analysis(text) == lemmas._analyse_now(word)
    assert lemmas.decode_analysis(fresh["пескова"])[3] == "песков"  # a name's lemma is kept too
    assert lemmas.decode_analysis(fresh["coréennes"])[4] == ("fr",)  # and which dictionaries know a word


def test_only_a_process_reading_stored_forms_keeps_its_analyses_for_storing() -> None:
    before = lemmas._store
    try:
        lemmas.use_store(None)  # the bot's own process: /testquery analyses stored items' words there
        lemmas.take_fresh()
        assert lemmas.lemma("зюзюкинскими") and lemmas.take_fresh() == {}
        lemmas.use_store(lambda word: None)  # a parse worker: what it analyses goes back to be stored
        assert lemmas.lemma("зюзюкинскому") and set(lemmas.take_fresh()) == {"зюзюкинскому"}
    finally:
        lemmas.use_store(before)


def test_the_generation_changes_with_the_rules_that_choose_an_analysis(tmp_path: Path) -> None:
    for part in ("__init__.py", "matching/__init__.py", "matching/lemmas.py", "matching/normalize.py"):
        (tmp_path / "bot" / part).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "bot" / part, tmp_path / "bot" / part)

    def generation() -> str:
        code = "from bot.matching import lemmas; print(lemmas.generation())"
        return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True).stdout

    first = generation()
    assert first.strip() == lemmas.generation()
    with (tmp_path / "bot/matching/normalize.py").open("a", encoding="utf-8") as f:
        f.write("\n# is_cyrillic and is_hangul decide which dictionary reads a word\n")
    assert generation() != first


def test_rows_of_another_generation_are_not_read_and_are_replaced(tmp_path: Path) -> None:
    db = open_database(tmp_path / "nw.db")
    with db.conn:
        save_word_forms(db, "old", {"troops": "troop|0|||en"})
    forms = WordForms(tmp_path / "nw.db")
    assert forms.analysis("troops", "old") == "troop|0|||en"
    assert forms.analysis("troops", "new") is None
    with db.conn:
        save_word_forms(db, "new", {"troops": "troop|0|x||en"})
    assert forms.analysis("troops", "new") == "troop|0|x||en"
    assert forms.analysis("troops", "old") is None
    forms.close()


def test_a_second_poll_of_known_words_loads_no_dictionary_starts_no_worker_and_finds_the_same(
    tmp_path: Path, server: FeedServer
) -> None:
    titles = ["Отправка северокорейских военных в Курск", "Переброска войск под Донецк"]
    later = "Переброска северокорейских военных под Донецк"  # every word met before, a new event

    def items(n: int) -> list[dict[str, str]]:
        return [{"title": t, "link": f"https://n.example/{i}", "description": ""} for i, t in enumerate([*titles, later][:n])]

    url = server.set("/f", body=rss(items(2)))
    config = tmp_path / "feeds.yaml"
    config.write_text(
        'topics:\n  - id: troops\n    query: \'"северокорейские военные" OR "north korean troops"\'\n'
        f"feeds:\n  - name: N\n    url: {url}\n",
        encoding="utf-8",
    )
    argv = ["once", "--json", "--config", str(config), "--db", str(tmp_path / "nw.db")]
    env = {"NEWSWATCH_ALLOW_PRIVATE_URLS": "1", "NEWSWATCH_PARSE_WORKERS": "2", "PATH": "/usr/bin:/bin"}

    def once() -> tuple[dict[str, object], list[str]]:
        return probe_once(PROBE, argv, env, timeout=90)

    report, printed = once()
    assert report["code"] == 0 and report["loaded"] != [], "the first poll analyses the words from the dictionaries"
    assert printed == [titles[0]]
    server.set("/f", body=rss(items(3)))
    report, printed = once()
    assert report == {"code": 0, "loaded": [], "workers": False}  # parsed in the process's own thread
    assert printed == [later]  # "северокорейские военные" found in "северокорейских военных" through the stored forms
    rows = open_database(tmp_path / "nw.db").execute(
        "SELECT count(*) FROM word_forms WHERE generation = ?", [lemmas.generation()]
    )
    assert rows.fetchone()[0] >= 4
