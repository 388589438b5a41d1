"""The wording of an explicit label: it must hold both elements of GB 45438 §5.

The AI element is 人工智能 or AI; the generation element is 生成 and/or 合成. A bare
"AI" badge, or an English-only "AI-generated", does not satisfy the two-element rule,
so the English default is bilingual.
"""

from __future__ import annotations

from synthguard.errors import SynthGuardError

DEFAULT_ZH = "本内容由人工智能生成"
DEFAULT_EN = "AI生成 | AI-generated content"
AI_ELEMENTS = ("人工智能", "AI")
GENERATION_ELEMENTS = ("生成", "合成")
MAX_NOTICE_CHARS = 200


class NoticeError(SynthGuardError, ValueError):
    """The notice text does not meet GB 45438 §5."""

    code = "invalid_notice"


def check_notice(text: str) -> str:
    """Return `text` stripped, or raise `NoticeError` naming the missing element."""
    notice = text.strip()
    if not notice:
        raise NoticeError("notice text is empty")
    if len(notice) > MAX_NOTICE_CHARS:
        raise NoticeError(f"notice text is {len(notice)} characters, limit {MAX_NOTICE_CHARS}")
    if not any(e in notice for e in AI_ELEMENTS):
        raise NoticeError(f"notice {notice!r} lacks the AI element (人工智能 or AI)")
    if not any(e in notice for e in GENERATION_ELEMENTS):
        raise NoticeError(f"notice {notice!r} lacks the generation element (生成 or 合成)")
    return notice
