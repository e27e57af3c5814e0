"""Words and numbers as story terms and query words: one amount written many ways is one term, and a
Latin name or Hanja abbreviation inside Korean text is a word of its own."""

from __future__ import annotations

import pytest

from bot.clustering import item_terms
from bot.matching.matcher import Matcher
from bot.matching.normalize import words
from bot.models import Topic
from bot.numbers import take_numbers


@pytest.mark.parametrize(
    ("spellings", "term"),
    [
        (["1,500 troops", "1 500 troops", "1500 troops", "1.500 troops"], "#1500"),
        (["10 тысяч военных", "10,000 soldiers", "1만 명"], "#10000"),
        (["약 4만5000명 수송", "4.5만명 수송", "45,000 passengers"], "#45000"),
        (["1조2000억원", "1.2조 원"], "#1200000000000"),
        (["16조에 인수", "16 000 milliards"], "#16000000000000"),
        (["3400억 규모"], "#340000000000"),
        (["1만6000석"], "#16000"),
    ],
)
def test_an_amount_is_one_term_however_it_is_written(spellings: list[str], term: str) -> None:
    for text in spellings:
        assert take_numbers(text)[1] == [term], text


def test_a_korean_unit_then_a_larger_number_is_not_one_amount() -> None:
    assert take_numbers("만 5000")[1] == ["#5000"]
    assert take_numbers("1만 20000명")[1] == ["#10000", "#20000"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("KTX와 SRT 내년말 합친다", ["ktx", "와", "srt", "내년말", "합친다"]),
        ("IBM이 콘플루언트 인수", ["ibm", "이", "콘플루언트", "인수"]),
        ("北파병 러시아", ["北", "파병", "러시아"]),
        ("LG엔솔, 벤츠에 공급", ["lg", "엔솔", "벤츠에", "공급"]),
        ("Kim Jong-un visits", ["kim", "jong", "un", "visits"]),
    ],
)
def test_latin_names_and_hanja_in_korean_text_are_words_of_their_own(text: str, expected: list[str]) -> None:
    assert words(text) == expected


def test_a_latin_name_with_a_korean_particle_is_the_same_story_term() -> None:
    one = item_terms("KTX와 SRT 내년말 합친다", "")
    other = item_terms("KTX-SRT '10년 경쟁' 막내려…고속철도 합친다", "")
    assert {"ktx", "srt"} <= set(one) & set(other)


def test_a_query_for_a_latin_name_finds_it_before_a_korean_particle() -> None:
    matcher = Matcher([Topic("rail", "Rail", "ktx"), Topic("ibm", "IBM", "ibm")])
    assert [m.topic for m in matcher.match("KTX와 SRT 내년말 합친다", "")] == ["rail"]
    assert [m.topic for m in matcher.match("IBM이 콘플루언트 인수 임박", "")] == ["ibm"]
    assert [m.topic for m in matcher.match("IBMers meet", "")] == []


def test_korean_compounds_share_syllable_pairs_that_weigh_one_word() -> None:
    one = item_terms("'위헌 논란' 내란재판부…민주당 일단 속도조절", "")
    other = item_terms("범여권도 막아선 '여당 폭주'…내란전담재판부 숨고르기", "")
    assert {"내란", "재판", "판부"} <= set(one) & set(other)
    assert "내란재판부" not in one
    assert sum(w * w for t, w in one.items() if t in {"내란", "란재", "재판", "판부"}) == pytest.approx(9.0)  # one title word
    assert item_terms("북한 도발", "") == {"북한": 3.0, "도발": 3.0}  # two syllables: the word itself


def test_a_lead_counts_its_first_words_only_and_a_title_word_three_times() -> None:
    lead = " — ".join(f"w{n}ord" for n in range(45)) + " 1,500 troops"
    terms = item_terms("Word zero", lead)
    assert terms["word"] == 3 and terms["zero"] == 3
    assert [t for t in terms if t.startswith("w")] == ["word", *(f"w{n}ord" for n in range(40))]
    assert "#1500" not in terms and "troop" not in terms  # past the 40th word
    short = item_terms("Title", "w1ord, 1,500 troops.")
    assert list(short.items()) == [("title", 3.0), ("#1500", 1.0), ("w1ord", 1.0), ("troop", 1.0)]  # numbers, then words
