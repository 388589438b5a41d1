"""The interaction-interface label (GB 45438 §5.6): notice text shown persistently next to
AI content, or at the top or bottom of a chat interface, and the same label as a field of
API responses so a client can show it.

§5.6 asks for a text prompt with both elements (人工智能/AI and 生成/合成), shown
persistently near the content or at the top, bottom or background of the interface. The
snippet is self-contained (inline styles, no script, no external font or stylesheet) so it
can be pasted into any page or template, and accessible: `role="note"` marks it as an
aside to the content, `aria-live="off"` keeps screen readers from re-announcing it while
a streamed answer re-renders around it, and its colours keep a WCAG contrast ratio well
above 4.5:1 whatever the page's own theme.
"""

from __future__ import annotations

import html
import re
from typing import Any, Literal

from synthguard.explicit.text import HTML_CLASS
from synthguard.explicit.wording import DEFAULT_ZH, NoticeError, check_notice
from synthguard.labels.aigc import AIGCLabel

Placement = Literal["top", "bottom", "near-content"]
PLACEMENTS: tuple[Placement, ...] = ("top", "bottom", "near-content")
FIELD = "synthguard_label"

# Dark text on amber: conspicuous on light and dark pages alike; WCAG contrast 11.8:1.
TEXT_COLOUR = "#3d2e00"
BACKGROUND_COLOUR = "#fff3bf"
BORDER_COLOUR = "#e0c25a"
_FONT = ("system-ui,-apple-system,'PingFang SC','Hiragino Sans GB','Microsoft YaHei',"
         "'Noto Sans CJK SC',sans-serif")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")

_COMMON = (f"box-sizing:border-box;color:{TEXT_COLOUR};background-color:{BACKGROUND_COLOUR};"
           f"font-family:{_FONT};font-weight:600;line-height:1.4")
# A banner pinned to the top or bottom edge of the scrolling chat pane (position:sticky
# keeps it in view while the conversation scrolls), or a tag right after the answer.
_BANNER = ("z-index:1000;display:block;width:100%;margin:0;padding:6px 12px;"
           "text-align:center;font-size:14px")
_LAYOUT: dict[Placement, str] = {
    "top": f"position:sticky;top:0;{_BANNER};border-bottom:1px solid {BORDER_COLOUR}",
    "bottom": f"position:sticky;bottom:0;{_BANNER};border-top:1px solid {BORDER_COLOUR}",
    "near-content": "display:inline-block;margin:4px 0;padding:2px 8px;border-radius:4px;"
                    f"font-size:13px;border:1px solid {BORDER_COLOUR}",
}


def notice_html(notice: str = DEFAULT_ZH, placement: Placement = "top", *,
                lang: str | None = None) -> str:
    """A one-element HTML snippet showing `notice` at `placement`.

    `lang` defaults to zh-CN when the notice contains Chinese characters, else en, so
    screen readers pick the right voice.
    """
    text = check_notice(notice)
    if placement not in PLACEMENTS:
        raise NoticeError(f"placement {placement!r} is not one of {', '.join(PLACEMENTS)}")
    language = lang or ("zh-CN" if _CJK.search(text) else "en")
    style = f"{_LAYOUT[placement]};{_COMMON}"  # no double quote: safe in style="..."
    return (f'<div class="{HTML_CLASS}" role="note" aria-live="off" '
            f'lang="{html.escape(language)}" data-placement="{placement}" '
            f'style="{style}">{html.escape(text)}</div>')


def notice_field(label: AIGCLabel, notice: str = DEFAULT_ZH) -> dict[str, Any]:
    """The label as a JSON object for API responses: the explicit notice a client should
    display and the implicit label's seven Annex E fields, e.g.
    {"synthguard_label": {"explicit": "本内容由人工智能生成",
                          "implicit": {"Label": "1", "ContentProducer": ..., ...}}}
    """
    return {FIELD: {"explicit": check_notice(notice), "implicit": label.fields()}}
