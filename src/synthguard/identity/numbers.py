"""Number rules for real-name checks (Provisions Art. 9): ID numbers, credit codes, mobiles.

Each check returns a typed result; a rejected one carries a `Rejection` with a stable
code and a message. Messages never quote the number (they reach clients and logs), and
the results keep the number out of their `repr` for the same reason.

What is validated:

- ID numbers (GB 11643-1999, 18 characters): the province prefix of the region code
  (see `regions`: the county digits are not checked), the birth date (a calendar date,
  not after today in China, not before 1900), the three sequence digits (odd = male),
  and the ISO 7064 MOD 11-2 check character (`X` for 10). Accepted in the same shape:
  residence permits of Hong Kong, Macao and Taiwan residents (region exactly
  810000/820000/830000) and the 2023 foreign permanent resident ID (first digit 9, then
  the province of the issuing office, a three-digit nationality code that is not checked
  against ISO 3166, the birth date, the sequence and the same check character).
- Unified social credit codes: `uscc.check_uscc(strict=True)`.
- Mainland mobile numbers: 11 digits in an assigned range (the table phonenumbers 9.0.43
  marks as mobile); virtual-operator (MVNO) ranges are accepted and flagged, because
  operator three-element checks often cannot verify them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from enum import StrEnum
from typing import Literal

from synthguard.identity.regions import PERMIT_REGIONS, PROVINCES
from synthguard.identity.uscc import check_uscc

CHINA_TZ = timezone(timedelta(hours=8))
ID_LENGTH = 18
ID_CHECK_CHARACTERS = "10X98765432"  # indexed by the weighted sum mod 11
# Weight of position i (1-based, from the left) is 2^(18-i) mod 11: 7 9 10 5 8 4 2 1 6 3 ...
_ID_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
EARLIEST_BIRTH = date(1900, 1, 1)

# Mobile number ranges (号段). Three-digit segments wholly assigned, plus longer prefixes
# for segments assigned in part (1610x; 17400-17405, satellite).
MOBILE_SEGMENTS = frozenset(
    [str(n) for n in range(130, 140)] + ["145", "147"]
    + [str(n) for n in (150, 151, 152, 153, 155, 156, 157, 158, 159)]
    + ["162", "165", "166", "167"]
    + [str(n) for n in (170, 171, 172, 173, 175, 176, 177, 178)]
    + [str(n) for n in range(180, 194)] + [str(n) for n in range(195, 200)])
MOBILE_PARTIAL_PREFIXES = ("1610", "17400", "17401", "17402", "17403", "17404", "17405")
# Segments that only virtual operators hold (转售 / MVNO): 170/171 since 2014, 162/165/167
# since 2017.
VIRTUAL_OPERATOR_SEGMENTS = frozenset({"162", "165", "167", "170", "171"})


class IdNumberKind(StrEnum):
    RESIDENT = "resident"  # 居民身份证
    HMT_RESIDENCE_PERMIT = "hmt_residence_permit"  # 港澳台居民居住证
    FOREIGN_PERMANENT_RESIDENT = "foreign_permanent_resident"  # 外国人永久居留身份证 (2023)


@dataclass(frozen=True)
class Rejection:
    """Why a number was refused: a stable `code` and a message that never quotes it."""

    code: str
    message: str


@dataclass(frozen=True)
class IdNumberCheck:
    value: str = field(repr=False)  # stripped, `x` upper-cased
    rejection: Rejection | None = None
    kind: IdNumberKind | None = None
    birth_date: date | None = field(default=None, repr=False)
    sex: Literal["male", "female"] | None = field(default=None, repr=False)
    region: str | None = None  # province code, or 81/82/83 for a permit

    @property
    def ok(self) -> bool:
        return self.rejection is None


@dataclass(frozen=True)
class MobileCheck:
    value: str = field(repr=False)  # the 11 digits, without +86
    rejection: Rejection | None = None
    segment: str = ""  # the three-digit range, e.g. "138"
    virtual_operator: bool = False

    @property
    def ok(self) -> bool:
        return self.rejection is None


@dataclass(frozen=True)
class OrganisationCodeCheck:
    value: str
    rejection: Rejection | None = None

    @property
    def ok(self) -> bool:
        return self.rejection is None


def china_today() -> date:
    return datetime.now(UTC).astimezone(CHINA_TZ).date()


def id_check_character(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character for the first 17 digits."""
    total = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True))
    return ID_CHECK_CHARACTERS[total % 11]


def check_id_number(value: str, *, today: date | None = None) -> IdNumberCheck:
    """Check an 18-character ID number of any of the three kinds (see module doc)."""
    number = value.strip().upper()

    def reject(code: str, message: str) -> IdNumberCheck:
        return IdNumberCheck(number, Rejection(code, message))

    if len(number) == 15 and number.isdigit():
        return reject("length", "15-digit first-generation ID numbers are no longer valid; "
                      "give the 18-character number")
    if len(number) != ID_LENGTH:
        return reject("length", f"an ID number has 18 characters, this has {len(number)}")
    if not (number[:17].isascii() and number[:17].isdigit()):
        return reject("characters", "the first 17 characters of an ID number must be digits")
    if number[17] not in ID_CHECK_CHARACTERS:
        return reject("characters", "the last character of an ID number must be a digit or X")
    if number[0] == "9":
        kind, region, birth = IdNumberKind.FOREIGN_PERMANENT_RESIDENT, number[1:3], number[6:14]
        if region not in PROVINCES:
            return reject("region", "the issuing province code of a foreign permanent "
                          "resident ID number is not assigned")
    elif number[:6] in PERMIT_REGIONS:
        kind, region, birth = IdNumberKind.HMT_RESIDENCE_PERMIT, number[:2], number[6:14]
    elif number[:2] in ("81", "82", "83"):
        return reject("region", "residence permit numbers start with exactly 810000, 820000 "
                      "or 830000")
    elif number[:2] in PROVINCES:
        kind, region, birth = IdNumberKind.RESIDENT, number[:2], number[6:14]
    else:
        return reject("region", "the region code does not start with an assigned province "
                      "code")
    born = _birth_date(birth)
    if born is None:
        return reject("birth_date", "the birth date in the ID number is not a calendar date")
    if born > (today or china_today()):
        return reject("birth_date_future", "the birth date in the ID number is in the future")
    if born < EARLIEST_BIRTH:
        return reject("birth_date_too_early", "the birth date in the ID number is before 1900")
    if number[17] != id_check_character(number[:17]):
        return reject("check_character", "the check character does not match (a mistyped "
                      "digit?)")
    sex: Literal["male", "female"] | None = None
    if kind is not IdNumberKind.FOREIGN_PERMANENT_RESIDENT:
        sex = "male" if int(number[16]) % 2 else "female"
    return IdNumberCheck(number, None, kind, born, sex, region)


def _birth_date(text: str) -> date | None:
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def normalise_mobile(value: str) -> str:
    """Drop spaces, hyphens and a +86 / 0086 country prefix; nothing else is changed."""
    number = "".join(value.split()).replace("-", "")
    for prefix in ("+86", "0086"):
        if number.startswith(prefix):
            return number[len(prefix):]
    if len(number) == 13 and number.startswith("861"):
        return number[2:]
    return number


def check_mobile(value: str) -> MobileCheck:
    """Check a mainland China mobile number (see module doc)."""
    number = normalise_mobile(value)

    def reject(code: str, message: str) -> MobileCheck:
        return MobileCheck(number, Rejection(code, message))

    if not (number.isascii() and number.isdigit()):
        return reject("characters", "a mobile number has only digits (and an optional +86)")
    if len(number) != 11:
        return reject("length", f"a mainland mobile number has 11 digits, this has "
                      f"{len(number)}")
    if number[0] != "1":
        return reject("prefix", "a mainland mobile number starts with 1")
    segment = number[:3]
    if segment not in MOBILE_SEGMENTS and not number.startswith(MOBILE_PARTIAL_PREFIXES):
        return reject("unassigned_range", f"the number range {segment} is not assigned to "
                      "mobile service")
    return MobileCheck(number, None, segment, segment in VIRTUAL_OPERATOR_SEGMENTS)


def check_organisation_code(value: str) -> OrganisationCodeCheck:
    """A unified social credit code, with the strict rules (see `uscc`)."""
    code = value.strip().upper()
    result = check_uscc(code, strict=True)
    if result.ok:
        return OrganisationCodeCheck(code)
    return OrganisationCodeCheck(code, Rejection(result.code, result.reason))
