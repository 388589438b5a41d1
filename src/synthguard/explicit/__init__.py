"""Explicit (visible / audible) labels, GB 45438-2025 §5."""

from synthguard.explicit.text import StreamingNotice, mark_text
from synthguard.explicit.wording import DEFAULT_EN, DEFAULT_ZH, NoticeError, check_notice

__all__ = ["DEFAULT_EN", "DEFAULT_ZH", "NoticeError", "StreamingNotice", "check_notice",
           "mark_text"]
