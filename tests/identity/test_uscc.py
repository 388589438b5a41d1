"""GB 32100-2015 unified social credit codes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from synthguard.identity.uscc import ALPHABET, check_character, check_uscc

# Published codes: a Beijing company (seen inside a real provider code) and letter-first
# codes (N: agricultural registries, Y: others) with check characters per the standard.
VALID = ["91110102MACQD9K640", "91350100M000100Y43"]


@pytest.mark.parametrize("code", VALID)
def test_valid(code: str) -> None:
    assert check_uscc(code).ok


def test_letter_first_codes() -> None:
    for first in "NY":
        body = first + "1110108MA01A0A00"
        assert check_uscc(body + check_character(body)).ok


@pytest.mark.parametrize("code,reason", [
    ("9111010", "18 characters"),
    ("91110102MACQD9K64I", "alphabet"),
    ("H1110102MACQD9K640", "authority"),
    ("90110102MACQD9K640", "entity type"),
    ("911A0102MACQD9K640", "region"),
    ("91110102MACQD9K641", "check character"),
])
def test_invalid(code: str, reason: str) -> None:
    result = check_uscc(code)
    assert not result.ok and reason in result.reason


@given(st.text(st.sampled_from(ALPHABET), min_size=17, max_size=17), st.data())
def test_one_change_fails(first17: str, data: st.DataObject) -> None:
    code = first17 + check_character(first17)
    pos = data.draw(st.integers(0, 17))
    other = data.draw(st.sampled_from(ALPHABET).filter(lambda c: c != code[pos]))
    changed = code[:pos] + other + code[pos + 1:]
    # A single substitution always changes the weighted sum mod 31 (31 is prime and
    # every weight is non-zero mod 31), so the check character catches it.
    assert check_character(changed[:17]) != changed[17]
