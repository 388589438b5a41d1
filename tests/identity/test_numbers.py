"""Number rules: ID numbers (resident, HK/Macao/Taiwan permits, 2023 foreign permanent
resident), strict credit codes and mobile numbers; every rejection reason, published
examples, and property tests."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from synthguard.identity.numbers import (
    ID_CHECK_CHARACTERS,
    MOBILE_SEGMENTS,
    VIRTUAL_OPERATOR_SEGMENTS,
    IdNumberKind,
    check_id_number,
    check_mobile,
    check_organisation_code,
    id_check_character,
)
from synthguard.identity.regions import PROVINCES
from synthguard.identity.uscc import ALPHABET, check_character
from tests.identity.helpers import STANDARD_ID, id_number

TODAY = date(2026, 3, 1)


def test_published_examples() -> None:
    # GB 11643-1999's example numbers: both have correct check characters; the second
    # (born 1880) is refused only by our not-before-1900 rule.
    assert id_check_character("44052418800101001") == "4"
    result = check_id_number(STANDARD_ID, today=TODAY)
    assert result.ok and result.kind == IdNumberKind.RESIDENT
    assert result.birth_date == date(1949, 12, 31) and result.sex == "female"
    assert result.region == "11"
    early = check_id_number("440524188001010014", today=TODAY).rejection
    assert early is not None and early.code == "birth_date_too_early"


def test_lower_case_x_and_spaces_are_normalised() -> None:
    result = check_id_number(f"  {STANDARD_ID.lower()} ", today=TODAY)
    assert result.ok and result.value == STANDARD_ID


@pytest.mark.parametrize("prefix, region", [("810000", "81"), ("820000", "82"),
                                            ("830000", "83")])
def test_residence_permits(prefix: str, region: str) -> None:
    result = check_id_number(id_number(prefix + "19940823001"), today=TODAY)
    assert result.ok and result.kind == IdNumberKind.HMT_RESIDENCE_PERMIT
    assert result.region == region and result.sex == "male"


def test_foreign_permanent_resident_2023() -> None:
    # 9 + issuing province (31 Shanghai) + nationality 156-style code + birth + sequence.
    result = check_id_number(id_number("931840" + "19900101" + "001"), today=TODAY)
    assert result.ok and result.kind == IdNumberKind.FOREIGN_PERMANENT_RESIDENT
    assert result.birth_date == date(1990, 1, 1) and result.sex is None


def test_results_keep_the_number_out_of_repr() -> None:
    assert STANDARD_ID not in repr(check_id_number(STANDARD_ID, today=TODAY))
    assert "13800138000" not in repr(check_mobile("13800138000"))


@pytest.mark.parametrize("number, code", [
    ("110105491231002", "length"),  # 15-digit first generation
    ("1101051949123100", "length"),
    ("11010519491231002XX", "length"),
    ("1101051949123100A2", "characters"),
    ("11010519491231002Y", "characters"),
    ("１10105194912310021", "characters"),  # a full-width digit is not ASCII
    (id_number("00010519491231002"), "region"),
    (id_number("72010519491231002"), "region"),
    (id_number("81010019491231002"), "region"),  # permits are exactly 810000
    (id_number("97010519491231002"), "region"),  # foreign: province 70 is not assigned
    (id_number("11010519490230002"), "birth_date"),
    (id_number("11010519491301002"), "birth_date"),
    (id_number("11010520260302002"), "birth_date_future"),
    (id_number("11010518991231002"), "birth_date_too_early"),
    ("110105194912310021", "check_character"),
])
def test_every_rejection_reason(number: str, code: str) -> None:
    result = check_id_number(number, today=TODAY)
    assert not result.ok and result.rejection is not None
    assert result.rejection.code == code
    assert number.strip() not in result.rejection.message


def test_born_today_is_accepted_and_tomorrow_is_not() -> None:
    assert check_id_number(id_number("11010520260301002"), today=TODAY).ok
    assert not check_id_number(id_number("11010520260302002"), today=TODAY).ok


@st.composite
def valid_ids(draw: st.DrawFn) -> str:
    born = draw(st.dates(date(1900, 1, 1), TODAY))
    form = draw(st.sampled_from(["resident", "permit", "foreign"]))
    if form == "resident":
        county = draw(st.from_regex(r"\A[0-9]{4}\Z"))
        head = draw(st.sampled_from(sorted(PROVINCES))) + county
    elif form == "permit":
        head = draw(st.sampled_from(["810000", "820000", "830000"]))
    else:
        nationality = draw(st.from_regex(r"\A[0-9]{3}\Z"))
        head = "9" + draw(st.sampled_from(sorted(PROVINCES))) + nationality
    return id_number(head + born.strftime("%Y%m%d") + draw(st.from_regex(r"\A[0-9]{3}\Z")))


@given(valid_ids())
def test_every_generated_valid_id_passes(number: str) -> None:
    assert check_id_number(number, today=TODAY).ok


@given(valid_ids(), st.data())
def test_every_one_character_change_fails(number: str, data: st.DataObject) -> None:
    pos = data.draw(st.integers(0, 17))
    other = data.draw(st.sampled_from(ID_CHECK_CHARACTERS).filter(lambda c: c != number[pos]))
    changed = number[:pos] + other + number[pos + 1:]
    # Weights 2^k mod 11 are never 0 and 11 is prime, so any substitution changes the
    # weighted sum mod 11: the check character (if nothing earlier) catches it.
    assert not check_id_number(changed, today=TODAY).ok


# -- credit codes (strict) -------------------------------------------------------------

def test_strict_credit_codes() -> None:
    assert check_organisation_code("91110102MACQD9K640").ok
    assert check_organisation_code(" 91350100m000100y43 ").ok  # normalised
    central = "11100000" + "000013127"
    assert check_organisation_code(central + check_character(central)).ok
    for first, kind in (("N", "2"), ("Y", "1"), ("5", "3"), ("3", "4")):
        body = first + kind + "110108MA01A0A00"
        assert check_organisation_code(body + check_character(body)).ok


@pytest.mark.parametrize("body, code", [
    ("92110108MA01A0A00", None),  # 工商 assigns 1-3: type 2 (个体工商户) is fine
    ("94110108MA01A0A00", "entity_type"),  # 工商 has no type 4
    ("Y2110108MA01A0A00", "entity_type"),  # 其他 only has type 1
    ("91990108MA01A0A00", "region"),  # 99 is no province
    ("H1110108MA01A0A00", "authority"),
])
def test_strict_credit_code_rules(body: str, code: str | None) -> None:
    result = check_organisation_code(body + check_character(body))
    assert (result.rejection.code if result.rejection else None) == code


@given(st.sampled_from("159NY"), st.sampled_from(sorted(PROVINCES)),
       st.from_regex(r"\A[0-9]{4}\Z"), st.text(st.sampled_from(ALPHABET), min_size=9,
                                               max_size=9))
def test_generated_strict_codes_pass(authority: str, province: str, county: str,
                                     body: str) -> None:
    first17 = authority + "1" + province + county + body
    assert check_organisation_code(first17 + check_character(first17)).ok


# -- mobile numbers --------------------------------------------------------------------

@pytest.mark.parametrize("text, value, virtual", [
    ("13800138000", "13800138000", False),
    ("+86 138 0013 8000", "13800138000", False),
    ("0086-199-1234-5678", "19912345678", False),
    ("8619912345678", "19912345678", False),
    ("17012345678", "17012345678", True),
    ("16212345678", "16212345678", True),
    ("16712345678", "16712345678", True),
    ("16612345678", "16612345678", False),
    ("16101234567", "16101234567", False),
    ("17403123456", "17403123456", False),
])
def test_valid_mobiles(text: str, value: str, virtual: bool) -> None:
    result = check_mobile(text)
    assert result.ok and result.value == value and result.virtual_operator is virtual


@pytest.mark.parametrize("text, code", [
    ("1380013800a", "characters"),
    ("１3800138000", "characters"),
    ("1380013800", "length"),
    ("138001380001", "length"),
    ("23800138000", "prefix"),
    ("14012345678", "unassigned_range"),
    ("15412345678", "unassigned_range"),
    ("17912345678", "unassigned_range"),
    ("19412345678", "unassigned_range"),
    ("16112345678", "unassigned_range"),  # only 1610x of 161 is assigned
    ("17406123456", "unassigned_range"),  # satellite range is 17400-17405
])
def test_mobile_rejections(text: str, code: str) -> None:
    result = check_mobile(text)
    assert result.rejection is not None and result.rejection.code == code


@given(st.sampled_from(sorted(MOBILE_SEGMENTS)), st.from_regex(r"\A[0-9]{8}\Z"))
def test_every_generated_mobile_passes(segment: str, rest: str) -> None:
    result = check_mobile(segment + rest)
    assert result.ok and result.virtual_operator == (segment in VIRTUAL_OPERATOR_SEGMENTS)


@given(st.sampled_from(sorted(MOBILE_SEGMENTS)), st.from_regex(r"\A[0-9]{8}\Z"), st.data())
def test_mobile_changes_that_must_fail(segment: str, rest: str, data: st.DataObject) -> None:
    # A mobile number has no check digit: a changed subscriber digit is another valid
    # number. What must fail is a changed character that leaves the digits or the ranges.
    number = segment + rest
    pos = data.draw(st.integers(0, 10))
    changed = number[:pos] + data.draw(st.sampled_from("aX-.*")) + number[pos + 1:]
    assert not check_mobile(changed).ok
    assert not check_mobile(number[:-1]).ok and not check_mobile(number + "0").ok
    unassigned = data.draw(st.sampled_from(["140", "141", "154", "179", "194"]))
    assert not check_mobile(unassigned + rest).ok
