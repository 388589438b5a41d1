"""PII scan accuracy on constructed data: every planted identity number, mobile, e-mail
and bank card is found with its kind, and none of the look-alikes (wrong check
characters, unassigned ranges, Luhn failures, order numbers, timestamps) is."""

from __future__ import annotations

import random
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from synthguard.governance.pii import find_pii, is_bank_card, luhn_ok, mask, scan_records
from synthguard.identity.numbers import id_check_character

TODAY = date(2026, 1, 1)
REGIONS = ("110105", "310104", "440305", "510107", "650102")
SEGMENTS = ("138", "139", "150", "186", "199", "170")
ISSUERS = ("622202", "621700", "411111", "510510", "356600")


def luhn_digit(body: str) -> str:
    for d in "0123456789":
        if luhn_ok(body + d):
            return d
    raise AssertionError("unreachable")


def id_number(rng: random.Random, *, valid: bool = True) -> str:
    born = date(1950, 1, 1).toordinal() + rng.randrange(25000)
    body = f"{rng.choice(REGIONS)}{date.fromordinal(born):%Y%m%d}{rng.randrange(1000):03d}"
    check = id_check_character(body)
    if not valid:
        check = next(c for c in "0123456789X" if c != check)
    return body + check


def mobile(rng: random.Random) -> str:
    return rng.choice(SEGMENTS) + f"{rng.randrange(10**8):08d}"


def card(rng: random.Random, *, valid: bool = True) -> str:
    length = rng.choice((16, 19))
    body = rng.choice(ISSUERS) + "".join(str(rng.randrange(10)) for _ in range(length - 7))
    digit = luhn_digit(body)
    if not valid:
        digit = str((int(digit) + 1) % 10)
    return body + digit


def test_constructed_corpus_is_found_exactly() -> None:
    rng = random.Random(45438)
    records: list[str] = []
    planted: list[list[tuple[str, str]]] = []
    for i in range(300):
        ident, phone, number = id_number(rng), mobile(rng), card(rng)
        email = f"user.{i}+tag@mail{i % 7}.example.cn"
        spaced = " ".join(number[j:j + 4] for j in range(0, len(number), 4))
        decoys = [id_number(rng, valid=False), "140" + f"{rng.randrange(10**8):08d}",
                  card(rng, valid=False), f"订单号2025{rng.randrange(10**15):015d}",
                  f"时间戳{1_700_000_000_000 + i}", "user@localhost",
                  f"{rng.randrange(10**6)}元"]
        shown_phone = rng.choice((phone, f"+86 {phone[:3]} {phone[3:7]} {phone[7:]}",
                                  f"{phone[:3]}-{phone[3:7]}-{phone[7:]}"))
        parts = [f"姓名：测试{i}", f"身份证号{ident}", f"电话{shown_phone}", f"邮箱：{email}",
                 f"卡号 {rng.choice((number, spaced))}", *decoys]
        rng.shuffle(parts)
        records.append("，".join(parts))
        planted.append(sorted([("id_number", ident), ("mobile", phone), ("email", email),
                               ("bank_card", number)]))
    for text, expected in zip(records, planted, strict=True):
        found = sorted((f.kind, "".join(c for c in text[f.span[0]:f.span[1]]
                                        if c not in " -").removeprefix("+86"))
                       for f in find_pii(text, today=TODAY))
        assert found == expected, text
    summary = scan_records(records, today=TODAY)
    assert summary.records_scanned == summary.records_with_pii == 300
    assert dict(summary.counts) == {"id_number": 300, "mobile": 300, "email": 300,
                                    "bank_card": 300}
    assert all(len(v) == 5 for v in summary.examples.values())


def test_clean_text_has_nothing() -> None:
    text = ("2025年10月1日发布，阅读量 1234567890123，版本 1.2.3，编号 ABC-1234-5678，"
            "价格 ￥19999，电话区号 010-12345678，邮编 100080。")
    assert find_pii(text, today=TODAY) == []
    assert scan_records([text, ""], today=TODAY).records_with_pii == 0


def test_a_valid_id_number_is_never_read_as_a_card() -> None:
    rng = random.Random(7)
    for _ in range(500):
        ident = id_number(rng)
        assert [f.kind for f in find_pii(f"ID {ident} end", today=TODAY)] == ["id_number"]


def test_future_birth_dates_and_permits() -> None:
    body = "11010520300101001"  # born 2030: not yet
    assert find_pii(body + id_check_character(body), today=TODAY) == []
    permit = "81000019900101002"  # a Hong Kong resident's residence permit
    assert [f.kind for f in find_pii(permit + id_check_character(permit), today=TODAY)] == [
        "id_number"]


def test_masks_keep_no_more_than_the_ends() -> None:
    assert mask("id_number", "11010519491231002X") == "1101**********002X"
    assert mask("bank_card", "6222 0212 3456 7890 128") == "622202*********0128"
    assert mask("mobile", "+86 138-0013-8000") == "138****8000"
    assert mask("email", "zhang.san@example.com") == "z***@example.com"


def test_luhn_reference_values() -> None:
    assert luhn_ok("79927398713") and not luhn_ok("79927398710")
    assert is_bank_card("4111111111111111") and not is_bank_card("4111111111111112")
    assert not is_bank_card("9111111111111111")  # no such issuer
    assert not luhn_ok("12a4")


@given(st.text(max_size=300))
def test_any_text_scans_without_error(text: str) -> None:
    for f in find_pii(text, today=TODAY):
        assert 0 <= f.span[0] < f.span[1] <= len(text) and "*" in f.masked
