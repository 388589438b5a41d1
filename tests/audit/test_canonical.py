"""Leaf entries: RFC 8785 canonical JSON (its number vectors), the fast path against the
reference encoder, and no personal data in an entry."""

from __future__ import annotations

import json
import struct
from datetime import timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthguard.audit import canonical
from synthguard.audit.canonical import (
    CanonicalError,
    canonical_json,
    entry_problem,
    format_number,
    record_entry,
    subject_ref,
)
from tests.audit.conftest import SECRET, record

# RFC 8785 Appendix B: IEEE 754 bit patterns and their canonical text.
RFC8785_NUMBERS = [
    ("0000000000000000", "0"), ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"), ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"), ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"), ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"), ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"), ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"), ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"), ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


# Found by the property test below: integral floats just above 2**53.
EDGES = [("4340000000000001", "9007199254740994")]


@pytest.mark.parametrize(("bits", "text"), RFC8785_NUMBERS + EDGES)
def test_numbers_follow_rfc_8785(bits: str, text: str) -> None:
    value = struct.unpack(">d", bytes.fromhex(bits))[0]
    assert format_number(value) == text
    assert canonical_json(value) == text.encode()
    assert canonical_json([value]) == f"[{text}]".encode()


def test_rfc_8785_sorting_and_escaping() -> None:
    # Keys sort by UTF-16 code units: U+1F600 (a surrogate pair) before U+E000.
    value = {"\ue000": 1, "\U0001f600": 2, "b": [True, None], "a": "\u20ac\n\"\\\x1f/"}
    assert canonical_json(value) == (
        '{"a":"\u20ac\\n\\"\\\\\\u001f/","b":[true,null],"\U0001f600":2,"\ue000":1}'
    ).encode()


def _reference(value: Any) -> bytes:
    parts: list[str] = []
    canonical._encode(value, parts, depth=0)
    return "".join(parts).encode("utf-8")


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**64), 2**64)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner,
                                                                 max_size=4),
    max_leaves=20)


@settings(max_examples=400, deadline=None)
@given(_json_values)
def test_the_fast_path_equals_the_reference_encoder(value: Any) -> None:
    try:
        expected = _reference(value)
    except UnicodeEncodeError:
        with pytest.raises(CanonicalError):
            canonical_json(value)
        return
    assert canonical_json(value) == expected
    # Canonical output parses back to a value with the same canonical form.
    assert canonical_json(json.loads(expected)) == expected


@pytest.mark.parametrize("value", [float("nan"), float("inf"), {1: "x"}, {"a": object()},
                                   "\ud800", b"bytes"])
def test_values_without_a_canonical_form_are_refused(value: Any) -> None:
    with pytest.raises(CanonicalError):
        canonical_json(value)


def test_deep_nesting_is_refused() -> None:
    value: Any = []
    for _ in range(100):
        value = [value]
    with pytest.raises(CanonicalError, match="nested"):
        canonical_json(value)


def test_an_entry_has_keyed_references_not_account_ids() -> None:
    rec = record(3, user_id="usr_li_lei", org_id="org_acme", key_id="key_secretive")
    entry = record_entry(rec, SECRET)
    text = entry.decode()
    for raw in ("usr_li_lei", "org_acme", "key_secretive"):
        assert raw not in text
    parsed = json.loads(entry)
    assert parsed["user_ref"] == subject_ref(SECRET, "user", "usr_li_lei")
    assert parsed["user_ref"] != subject_ref(bytes(32), "user", "usr_li_lei")
    assert parsed["user_ref"] != subject_ref(SECRET, "key", "usr_li_lei")  # one domain per kind
    assert parsed["record_id"] == rec.id and parsed["v"] == 1
    assert parsed["created_at"].endswith("Z") and parsed["overhead_ms"] == rec.overhead_ms
    assert entry_problem(entry, rec.id) is None


def test_an_entry_is_the_same_bytes_whatever_the_time_zone() -> None:
    rec = record(1)
    shanghai = rec.created_at.astimezone(timezone(timedelta(hours=8)))
    other = record(1, id=rec.id, created_at=shanghai)
    assert record_entry(rec, SECRET) == record_entry(other, SECRET)


def test_entry_problems_are_named() -> None:
    rec = record(2)
    entry = record_entry(rec, SECRET)
    assert entry_problem(entry, "f" * 32) is not None
    assert entry_problem(b"{not json", None) == "entry is not JSON"
    assert entry_problem(b'{"v":2}', None) == "entry is not a version-1 audit entry"
    spaced = json.dumps(json.loads(entry), indent=1).encode()
    assert entry_problem(spaced, rec.id) == "entry is not in canonical form"
