"""Template filters: times in China time, ages, Markdown (raw HTML off), domain labels."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from jinja2 import Environment
from markdown_it import MarkdownIt
from markupsafe import Markup

from synthguard.governance.flow import CATEGORY_LABELS, KIND_LABELS
from synthguard.identity.numbers import CHINA_TZ

# CommonMark with raw HTML disabled: policy texts are written by operators, but a page
# anyone can open must not carry their markup (markdown-it also refuses javascript: links).
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
STATE_LABELS = {
    "received": "已提交 Submitted", "acknowledged": "已受理 Acknowledged",
    "in_review": "核查中 In review", "escalated": "已升级 Escalated",
    "answered": "已答复 Answered", "closed": "已办结 Closed",
}
ACCOUNT_STATE_LABELS = {
    "active": "正常 Active", "warned": "已警告 Warned", "limited": "已限制功能 Limited",
    "suspended": "已暂停 Suspended", "closed": "已关闭 Closed",
}
CHECK_LABELS = {  # (check, status) -> what "check a file" says
    ("watermark", "present"): "本服务的水印 Our watermark found",
    ("watermark", "absent"): "未发现本服务的水印 No watermark of ours found",
    ("watermark", "not_checked"): "未检测水印 Watermark not checked",
    ("signature", "valid"): "签名有效 Signature valid",
    ("signature", "invalid"): "签名无效 Signature invalid",
    ("signature", "unsigned"): "未签名 Not signed",
    ("signature", "untrusted"): "签名者未被信任 Signed with a key we do not pin",
    ("c2pa", "trusted"): "清单有效且可信 Manifest valid, signer trusted",
    ("c2pa", "valid"): "清单有效 Manifest valid",
    ("c2pa", "invalid"): "清单无效 Manifest invalid",
    ("c2pa", "absent"): "无 C2PA 清单 No C2PA manifest",
    ("c2pa", "not_checked"): "未检测 Not checked",
}
VERDICT_LABELS = {
    "compliant": "Label present and valid", "noncompliant": "Label present but not valid",
    "not_found": "No AI label found", "inconclusive": "Could not be read",
}


def china_time(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")


def age(value: datetime | None, now: datetime | None = None) -> str:
    """How long ago, in the largest sensible unit ("3 h 5 min", "2 d 4 h")."""
    if value is None:
        return "—"
    delta = (now or datetime.now(UTC)) - value
    if delta < timedelta(0):
        return "0 min"
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def markdown(text: str) -> Markup:
    return Markup(_markdown.render(text))  # markdown-it escapes text; raw HTML is off


def category(value: str) -> str:
    zh, en = CATEGORY_LABELS.get(value, (value, ""))
    return f"{zh} ({en})" if en else zh


def kind(value: str) -> str:
    zh, en = KIND_LABELS.get(value, (value, ""))
    return f"{zh} — {en}" if en else zh


def iso_day(value: date | datetime | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.astimezone(CHINA_TZ).date()
    return value.isoformat()


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


def install(env: Environment) -> None:
    env.filters.update({
        "china_time": china_time, "age": age, "markdown": markdown, "category": category,
        "kind": kind, "iso_day": iso_day, "percent": percent,
        "state_label": lambda v: STATE_LABELS.get(v, v),
        "account_state": lambda v: ACCOUNT_STATE_LABELS.get(v, v),
        "verdict_label": lambda v: VERDICT_LABELS.get(v, v),
        "check_label": lambda v, check: CHECK_LABELS.get((check, v), v),
    })
    env.globals["category_labels"] = CATEGORY_LABELS
