"""The TC260-003 / GB/T 45654-2025 Appendix A risk taxonomy: 5 categories, 31 risks.

Risk ids are `A.<category>.<n>` in the order the appendix lists them. Names are the short
Chinese forms of the project's moderation reference (docs/reference/moderation.md §1).
The keyword minimums (≥200 per A.1 risk, ≥100 per A.2 risk, ≥10,000 in all) apply to
the 17 A.1/A.2 risks; the other categories have no keyword minimum.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Category:
    id: str
    name: str
    keyword_minimum: int  # per risk in this category; 0 where TC260 sets none


@dataclass(frozen=True)
class Risk:
    id: str
    name: str
    category: Category

    @property
    def keyword_minimum(self) -> int:
        return self.category.keyword_minimum


CATEGORIES: tuple[Category, ...] = (
    Category("A.1", "违反社会主义核心价值观", 200),
    Category("A.2", "歧视性内容", 100),
    Category("A.3", "商业违法违规", 0),
    Category("A.4", "侵犯他人合法权益", 0),
    Category("A.5", "特定服务类型安全需求", 0),
)

_NAMES: dict[str, tuple[str, ...]] = {
    "A.1": ("颠覆政权", "危害国家安全/形象", "分裂国家", "恐怖主义/极端主义", "民族仇恨",
            "暴力、淫秽色情", "虚假有害信息", "其他法律禁止"),
    "A.2": ("民族歧视", "信仰歧视", "国别歧视", "地域歧视", "性别歧视", "年龄歧视",
            "职业歧视", "健康歧视", "其他歧视"),
    "A.3": ("侵犯知识产权", "违反商业道德", "泄露商业秘密", "垄断/不正当竞争", "其他商业违法违规"),
    "A.4": ("危害身心健康", "侵害肖像权", "侵害名誉权", "侵害荣誉权", "侵害隐私权",
            "侵害个人信息权益", "侵犯其他合法权益"),
    "A.5": ("内容不准确", "内容不可靠"),
}

RISKS: tuple[Risk, ...] = tuple(
    Risk(f"{cat.id}.{i}", name, cat)
    for cat in CATEGORIES for i, name in enumerate(_NAMES[cat.id], start=1))
RISK_BY_ID: dict[str, Risk] = {r.id: r for r in RISKS}
KEYWORD_TOTAL_MINIMUM = 10_000


def risk(risk_id: str) -> Risk:
    """The risk with this id; KeyError names the id when it is not in Appendix A."""
    try:
        return RISK_BY_ID[risk_id]
    except KeyError:
        raise KeyError(f"unknown risk id {risk_id!r} (expected A.1.1 .. A.5.2)") from None


class _Countable(Protocol):
    @property
    def risk_id(self) -> str: ...
    @property
    def kind(self) -> str: ...


@dataclass(frozen=True)
class RiskCoverage:
    risk: Risk
    keywords: int  # keyword and phrase entries; pinyin forms are variants and do not count
    other: int  # regex, sample and image-hash entries

    @property
    def meets_minimum(self) -> bool:
        return self.keywords >= self.risk.keyword_minimum


@dataclass(frozen=True)
class CoverageReport:
    risks: tuple[RiskCoverage, ...]

    @property
    def keywords(self) -> int:
        return sum(r.keywords for r in self.risks)

    @property
    def meets_minimums(self) -> bool:
        return (self.keywords >= KEYWORD_TOTAL_MINIMUM
                and all(r.meets_minimum for r in self.risks))

    @property
    def short(self) -> tuple[RiskCoverage, ...]:
        """Risks below their TC260 keyword minimum."""
        return tuple(r for r in self.risks if not r.meets_minimum)

    def as_dict(self) -> dict[str, object]:
        return {
            "keywords": self.keywords, "keyword_minimum": KEYWORD_TOTAL_MINIMUM,
            "meets_minimums": self.meets_minimums,
            "risks": [{"risk_id": r.risk.id, "name": r.risk.name, "keywords": r.keywords,
                       "minimum": r.risk.keyword_minimum, "other": r.other,
                       "meets_minimum": r.meets_minimum} for r in self.risks]}

    def markdown(self) -> str:
        lines = ["| Risk | Name | Keywords | Minimum | Other entries | OK |",
                 "|---|---|---|---|---|---|"]
        lines += [f"| {r.risk.id} | {r.risk.name} | {r.keywords} | {r.risk.keyword_minimum} | "
                  f"{r.other} | {'yes' if r.meets_minimum else 'NO'} |" for r in self.risks]
        lines.append(f"| all | | {self.keywords} | {KEYWORD_TOTAL_MINIMUM} | "
                     f"{sum(r.other for r in self.risks)} | "
                     f"{'yes' if self.meets_minimums else 'NO'} |")
        return "\n".join(lines)


def coverage(entries: Iterable[_Countable]) -> CoverageReport:
    """Entries per risk against the TC260 keyword minimums (pass a release's entries)."""
    keywords: Counter[str] = Counter()
    other: Counter[str] = Counter()
    for e in entries:
        (keywords if e.kind in ("keyword", "phrase") else other)[e.risk_id] += 1
    return CoverageReport(tuple(RiskCoverage(r, keywords[r.id], other[r.id]) for r in RISKS))
