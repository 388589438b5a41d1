"""Each evasion class: cases that must match, benign look-alikes that must not, and the
named evasion; offsets always map back to the exact original characters."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthguard.moderation.normalize import (
    BOUNDARY,
    fold_pattern,
    fold_patterns,
    loose_view,
    normalized_view,
    pinyin_view,
)
from tests.moderation.conftest import engine_of, entry

# (evasion class, keyword, evasive text that must match, expected view, benign text)
CASES = [
    ("none", "代开发票", "可代开发票", "exact", "代开会议发票"),
    ("width", "sb", "你是ＳＢ吗", "normalized", "usb接口"),
    ("case", "sb", "你是SB吗", "normalized", "SBS电视台"),
    ("zero_width", "代开发票", "代\u200b开\u200d发\ufeff票", "normalized", "代开 会议的发票"),
    ("traditional", "代开发票", "代開發票", "normalized", "代理開業發表"),
    ("numeral", "110", "拨打壹壹零", "normalized", "拨打一一九"),
    ("numeral", "64", "⑹④", "loose", "⑹⑤"),
    ("homoglyph", "fuck", "fυck", "loose", "fork"),
    ("separator", "傻帽", "傻!@#$帽", "loose", "傻!@#$%^&*帽"),
    ("emoji", "傻帽", "傻🐶帽", "loose", "傻🐶🐶🐶🐶🐶🐶帽"),
    ("repeat", "傻帽子", "傻傻帽帽子", "loose", "傻大帽子"),
    ("combining_mark", "cafe", "ca\u0301fe", "normalized", "cafes"),
]


@pytest.mark.parametrize(("evasion", "keyword", "evasive", "view", "benign"), CASES)
def test_evasion_class_matches_and_benign_look_alike_does_not(
        evasion: str, keyword: str, evasive: str, view: str, benign: str) -> None:
    engine = engine_of(entry(keyword))
    found = engine.review(evasive, stage="input")
    assert len(found.matches) == 1, found
    match = found.matches[0]
    assert match.view == view
    if view != "exact":
        assert evasion in match.evasions
    start, end = match.span
    # The span covers the evasive spelling exactly: first and last keyword character.
    assert fold_pattern(evasive[start:end], "loose") == fold_pattern(keyword, "loose")
    assert engine.review(benign, stage="input").matches == ()


def test_loose_matches_go_to_review_not_block() -> None:
    engine = engine_of(entry("傻帽", action="block"))
    assert engine.review("傻帽", stage="input").decision == "block"
    assert engine.review("傻😀帽", stage="input").decision == "review"


def test_separator_gap_is_bounded() -> None:
    view = loose_view("傻" + "!" * 5 + "帽" + "?" * 6 + "子", max_gap=5)
    assert view.text == "傻帽" + BOUNDARY + "子"
    assert view.original_span(1, 2) == (6, 7)


def test_latin_keywords_match_whole_words_only() -> None:
    engine = engine_of(entry("ass", action="review"))
    for benign in ("class", "assistant", "this is sassy", "glass"):
        assert engine.review(benign, stage="input").matches == (), benign
    for evasive in ("you ass", "a.s.s!", "ＡＳＳ"):
        assert len(engine.review(evasive, stage="input").matches) == 1, evasive


def test_pinyin_and_initials_only_for_entries_that_opt_in() -> None:
    plain = engine_of(entry("赌博网站"))
    opted = engine_of(entry("赌博网站", pinyin=True))
    for evasive, evasion in (("du bo wang zhan", "pinyin"), ("找个DBWZ", "initials"),
                             ("堵博网占", "pinyin")):
        assert plain.review(evasive, stage="input").matches == ()
        match, = opted.review(evasive, stage="input").matches
        assert evasion in match.evasions and match.action == "review"
    # Syllables must line up: "dubo" inside a typed word is not the keyword.
    assert opted.review("xdubowangzhanx", stage="input").matches == ()


def test_pinyin_view_edges_follow_syllables_and_typed_words() -> None:
    view = pinyin_view("正府 zheng fu")
    assert view.text == "zhengfuzhengfu"
    assert view.edges is not None
    edges = [i for i, edge in enumerate(view.edges.tolist()) if edge]
    # Syllables of hanzi have edges; the typed word is one run with edges at its ends.
    assert edges == [0, 5, 7, 14]


def test_normalized_view_offsets_for_expanding_characters() -> None:
    view = normalized_view("a⑽ß")
    assert view.text == "a(10)ss"
    assert [view.original_span(i, i + 1) for i in range(len(view.text))] == [
        (0, 1), (1, 2), (1, 2), (1, 2), (1, 2), (2, 3), (2, 3)]


def test_lone_surrogates_do_not_break_review() -> None:
    engine = engine_of(entry("傻帽"))
    assert engine.review("\ud800傻帽\udfff", stage="input").matches[0].span == (1, 3)


def test_fold_patterns_equals_fold_pattern() -> None:
    patterns = ["代開發票", "傻!!帽", "ＳＢ", "!!!", "", "重庆", "aa"]
    for view in ("exact", "normalized", "loose", "pinyin"):
        assert fold_patterns(patterns, view) == [fold_pattern(p, view) for p in patterns]


_noise = st.sampled_from(list("!@# \u200b\u200d\ufeff🐶①⑴ＡａАаß̈紅红"))
_text = st.lists(st.one_of(st.sampled_from(list("代开发票傻帽abc")), _noise), max_size=40)


@settings(deadline=None)
@given(_text)
def test_every_view_maps_each_character_to_its_original(chars: list[str]) -> None:
    text = "".join(chars)
    for view in (normalized_view(text), loose_view(text), pinyin_view(text)):
        assert len(view.source) == len(view.text)
        assert all(0 <= s < len(text) for s in view.source.tolist())
        assert list(view.source) == sorted(view.source)  # order is kept
        for i, c in enumerate(view.text):
            if c == BOUNDARY or view.name == "pinyin":
                continue
            original = text[int(view.source[i])]
            assert c in fold_pattern(original, "loose" if view.name == "loose" else
                                     "normalized") or c in fold_pattern(original, "normalized")


@settings(deadline=None)
@given(_text, st.sampled_from(["代开发票", "傻帽", "abc"]))
def test_spans_of_matches_hold_the_keyword(chars: list[str], keyword: str) -> None:
    text = "".join(chars)
    engine = engine_of(entry(keyword))
    for match in engine.review(text, stage="input").matches:
        start, end = match.span
        assert fold_pattern(keyword, "loose") in fold_pattern(text[start:end], "loose")
        # Minimal: the span starts and ends on characters that fold into the keyword.
        assert fold_pattern(text[start], "loose") and fold_pattern(text[end - 1], "loose")
