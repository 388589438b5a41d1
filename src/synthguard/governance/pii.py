"""Personal information in training data (Provisions Art. 14): find identity numbers,
mobile numbers, e-mail addresses and bank card numbers in text records.

Candidates come from patterns; a candidate counts only when it passes the number rules
a real one must pass, which is what keeps order numbers, timestamps and phone-shaped
counters out: identity numbers by the GB 11643 rules of `identity.numbers` (region,
birth date, check character, the permit and foreign-resident kinds), mobile numbers by
its assigned-range table, bank cards by length, issuer prefix and the Luhn check. A
place already taken by an identity number (or by one with only its check character
wrong) is not read again as a card or a phone.
Findings keep only masked forms, never the values.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from synthguard.identity.numbers import check_id_number, check_mobile

PiiKind = Literal["id_number", "mobile", "email", "bank_card"]
KINDS: tuple[PiiKind, ...] = ("id_number", "bank_card", "mobile", "email")

_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[0-9Xx](?![0-9A-Za-z])")
# Unbroken 13-19 digits, or groups of four split by a space or hyphen (as printed).
_CARD = re.compile(r"(?<![\d-])(?:\d{13,19}|\d{4}(?:[ -]\d{4}){2,3}(?:[ -]\d{1,4})?)(?![\d])")
_MOBILE = re.compile(r"(?<![\d+])(?:(?:\+|00)86[ -]?)?1\d{2}[ -]?\d{4}[ -]?\d{4}(?!\d)")
_EMAIL = re.compile(r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@"
                    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}"
                    r"(?![\w-])")
# Issuer prefixes of payment cards: Diners (30, 36, 38, 39), JCB (35), American Express
# (34, 37), Visa (4), Mastercard (51-55, 2221-2720), UnionPay (62), Discover (6011, 65).
_CARD_ISSUERS = re.compile(r"3[0456789]|4|5[1-5]|2(?:22[1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720)|6")


@dataclass(frozen=True)
class PiiFinding:
    kind: PiiKind
    span: tuple[int, int]
    masked: str


def luhn_ok(digits: str) -> bool:
    """The Luhn (ISO/IEC 7812) check of a digit string."""
    if not digits.isdigit():
        return False
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def is_bank_card(digits: str) -> bool:
    return (13 <= len(digits) <= 19 and _CARD_ISSUERS.match(digits) is not None
            and luhn_ok(digits))


def mask(kind: PiiKind, value: str) -> str:
    if kind == "email":
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"
    digits = re.sub(r"[^0-9Xx]", "", value)
    if kind == "id_number":
        return digits[:4] + "*" * (len(digits) - 8) + digits[-4:]
    if kind == "bank_card":
        return digits[:6] + "*" * (len(digits) - 10) + digits[-4:]
    return digits[-11:-8] + "****" + digits[-4:]


def find_pii(text: str, *, today: date | None = None) -> list[PiiFinding]:
    """Every identity number, bank card, mobile number and e-mail address in `text`."""
    found: list[PiiFinding] = []
    taken: list[tuple[int, int]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= a or start >= b for a, b in taken)

    def keep(kind: PiiKind, m: re.Match[str]) -> None:
        found.append(PiiFinding(kind, m.span(), mask(kind, m.group())))
        taken.append(m.span())

    for m in _ID.finditer(text):
        check = check_id_number(m.group(), today=today)
        if check.ok:
            keep("id_number", m)
        elif check.rejection is not None and check.rejection.code == "check_character":
            # An ID number with one digit mistyped: not found as one, but not a card
            # either (18-digit cards are rare; a Luhn pass here is chance).
            taken.append(m.span())
    for m in _CARD.finditer(text):
        if free(*m.span()) and is_bank_card(re.sub(r"[ -]", "", m.group())):
            keep("bank_card", m)
    for m in _MOBILE.finditer(text):
        if free(*m.span()) and check_mobile(m.group()).ok:
            keep("mobile", m)
    for m in _EMAIL.finditer(text):
        if free(*m.span()):
            keep("email", m)
    return sorted(found, key=lambda f: f.span)


@dataclass
class PiiSummary:
    records_scanned: int = 0
    records_with_pii: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)


def scan_records(records: Iterable[str], *, max_examples: int = 5,
                 today: date | None = None) -> PiiSummary:
    """Count personal information over text records, keeping a few masked examples."""
    summary = PiiSummary()
    for record in records:
        summary.records_scanned += 1
        findings = find_pii(record, today=today)
        if findings:
            summary.records_with_pii += 1
        for f in findings:
            summary.counts[f.kind] += 1
            examples = summary.examples.setdefault(f.kind, [])
            if len(examples) < max_examples and f.masked not in examples:
                examples.append(f.masked)
    return summary
