"""Unified social credit code (统一社会信用代码), GB 32100-2015.

18 characters from a 31-symbol alphabet (no I, O, Z, S, V):
1 registering authority, 2 entity type, 3-8 region (digits), 9-17 entity body,
18 check character (weighted sum mod 31).

`check_uscc` checks the structure every code has (the label code relies on exactly
that); `strict=True` adds what real-name checks of an organisation want on top: the
entity type must be one the registering authority assigns (GB 32100 Annex A, where the
authority's table is known) and the region must start with a province code.
"""

from __future__ import annotations

from dataclasses import dataclass

from synthguard.identity.regions import CENTRAL_REGION_PREFIX, PROVINCES

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

# Registering authorities (登记管理部门代码) in use: 1-9 plus letters for newer registries
# (A 中央军委改革办, N 农业, Y 其他). Letter-first codes do occur in the wild.
AUTHORITIES = "123456789ABCDEFGNY"

# Entity types (机构类别代码) each authority assigns, GB 32100-2015 Annex A and the later
# agricultural (N) registry. Authorities missing here accept any non-zero type: refusing
# a real organisation on a guessed table would be worse than a looser pre-check, since
# the registry lookup behind it is the real authority.
ENTITY_TYPES: dict[str, str] = {
    "1": "1239",    # 机构编制: 机关, 事业单位, 中央编办管理的群众团体, 其他
    "2": "19",      # 外交: 外国常驻新闻机构, 其他
    "3": "123459",  # 司法行政: 律所, 公证处, 基层法律服务所, 司法鉴定, 仲裁委, 其他
    "4": "19",      # 文化: 外国在华文化中心, 其他
    "5": "1239",    # 民政: 社会团体, 民办非企业单位, 基金会, 其他
    "6": "129",     # 旅游: 外国 / 港澳台旅游部门常驻代表机构, 其他
    "7": "129",     # 宗教: 宗教活动场所, 宗教院校, 其他
    "8": "19",      # 工会: 基层工会, 其他
    "9": "123",     # 工商: 企业, 个体工商户, 农民专业合作社
    "A": "19",      # 中央军委改革和编制办公室: 军队事业单位, 其他
    "N": "1239",    # 农业农村: 组级, 村级, 乡镇级集体经济组织, 其他
    "Y": "1",       # 其他
}


@dataclass(frozen=True)
class USCCResult:
    """Outcome of a USCC check: `ok`, and when not ok, the reason (and its stable code:
    length, characters, authority, entity_type, region, check_character)."""

    value: str
    ok: bool
    reason: str = ""
    code: str = ""


def check_character(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters."""
    total = sum(_VALUE[c] * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def check_uscc(value: str, *, strict: bool = False) -> USCCResult:
    """Validate a unified social credit code; the reason names the first failing rule."""

    def fail(code: str, reason: str) -> USCCResult:
        return USCCResult(value, False, reason, code)

    if len(value) != 18:
        return fail("length", f"must be 18 characters, got {len(value)}")
    for i, c in enumerate(value, start=1):
        if c not in _VALUE:
            return fail("characters", f"character {i} {c!r} is not in the GB 32100 alphabet")
    if value[0] not in AUTHORITIES:
        return fail("authority", f"registering authority {value[0]!r} is not assigned")
    if value[1] == "0":
        return fail("entity_type", "entity type 0 is not assigned")
    if strict and value[1] not in ENTITY_TYPES.get(value[0], value[1]):
        return fail("entity_type", f"entity type {value[1]!r} is not assigned by registering "
                    f"authority {value[0]!r}")
    if not value[2:8].isdigit():
        return fail("region", "region code (characters 3-8) must be digits")
    if strict and value[2:4] not in PROVINCES and value[2:4] != CENTRAL_REGION_PREFIX:
        return fail("region", f"region code starts with {value[2:4]!r}, not a province code")
    expected = check_character(value[:17])
    if value[17] != expected:
        return fail("check_character", f"check character is {value[17]!r}, expected "
                    f"{expected!r}")
    return USCCResult(value, True)
