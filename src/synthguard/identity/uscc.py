"""Unified social credit code (统一社会信用代码), GB 32100-2015.

18 characters from a 31-symbol alphabet (no I, O, Z, S, V):
1 registering authority, 2 entity type, 3-8 region (digits), 9-17 entity body,
18 check character (weighted sum mod 31).
"""

from __future__ import annotations

from dataclasses import dataclass

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

# Registering authorities (登记管理部门代码) in use: 1-9 plus letters for newer registries
# (A 中央军委改革办, N 农业, Y 其他). Letter-first codes do occur in the wild.
AUTHORITIES = "123456789ABCDEFGNY"


@dataclass(frozen=True)
class USCCResult:
    """Outcome of a USCC check: `ok`, and when not ok, the reason."""

    value: str
    ok: bool
    reason: str = ""


def check_character(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters."""
    total = sum(_VALUE[c] * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def check_uscc(value: str) -> USCCResult:
    """Validate a unified social credit code; the reason names the first failing rule."""
    if len(value) != 18:
        return USCCResult(value, False, f"must be 18 characters, got {len(value)}")
    for i, c in enumerate(value, start=1):
        if c not in _VALUE:
            return USCCResult(value, False, f"character {i} {c!r} is not in the GB 32100 alphabet")
    if value[0] not in AUTHORITIES:
        return USCCResult(value, False, f"registering authority {value[0]!r} is not assigned")
    if value[1] == "0":
        return USCCResult(value, False, "entity type 0 is not assigned")
    if not value[2:8].isdigit():
        return USCCResult(value, False, "region code (characters 3-8) must be digits")
    expected = check_character(value[:17])
    if value[17] != expected:
        return USCCResult(value, False, f"check character is {value[17]!r}, expected {expected!r}")
    return USCCResult(value, True)
