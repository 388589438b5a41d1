"""Explicit text labels: wording rule, placement per format, idempotence, streaming."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from synthguard.explicit import (
    DEFAULT_EN,
    DEFAULT_ZH,
    NoticeError,
    StreamingNotice,
    check_notice,
    mark_text,
)

N = DEFAULT_ZH


@pytest.mark.parametrize("ok", [DEFAULT_ZH, DEFAULT_EN, "AI生成", "人工智能合成", "由AI生成合成"])
def test_valid_wording(ok: str) -> None:
    assert check_notice(ok) == ok


@pytest.mark.parametrize("bad,missing", [
    ("AI", "generation"), ("AI-generated", "generation"), ("本内容由机器生成", "AI element"),
    ("", "empty"), ("ai生成", "AI element"), ("AI生成" * 60, "limit"),
])
def test_invalid_wording(bad: str, missing: str) -> None:
    with pytest.raises(NoticeError, match=missing):
        check_notice(bad)


def test_plain_positions_and_idempotence() -> None:
    text = "第一段。\n\n第二段。"
    start = mark_text(text, position="start")
    assert start.startswith(N) and start.endswith("第二段。")
    end = mark_text(text, position="end")
    assert end.rstrip().endswith(N) and end.startswith("第一段")
    both = mark_text(text, position="both")
    assert both.startswith(N) and both.rstrip().endswith(N)
    assert mark_text(both, position="both") == both
    assert both.count(N) == 2


def test_plain_keeps_crlf() -> None:
    out = mark_text("a\r\nb", position="start")
    assert out == f"{N}\r\n\r\na\r\nb"


def test_markdown_after_front_matter() -> None:
    md = "---\ntitle: x\n---\n# Heading\n\nBody\n"
    out = mark_text(md, fmt="markdown", position="both")
    assert out.startswith("---\ntitle: x\n---\n> " + N)
    assert out.rstrip().endswith("> " + N)
    assert mark_text(out, fmt="markdown", position="both") == out


def test_markdown_never_inside_code_block() -> None:
    md = "Intro\n\n```python\nprint(1)\n"  # fence left open by a truncated answer
    out = mark_text(md, fmt="markdown", position="end")
    code_end = out.rindex("```")
    assert out.index("> " + N) > code_end
    closed = "```\ncode\n```\n"
    out = mark_text(closed, fmt="markdown", position="start")
    assert out.startswith("> " + N)


def test_html_inside_body() -> None:
    page = "<html><head><title>t</title></head><body class='x'><p>hi</p></body></html>"
    out = mark_text(page, fmt="html", position="both")
    assert out.index("<body class='x'><p class=\"synthguard-aigc-notice\"") > 0
    assert out.index("synthguard-aigc-notice", out.index("<p>hi</p>")) < out.index("</body>")
    assert "<title>t</title>" in out
    assert mark_text(out, fmt="html", position="both") == out


def test_html_escapes_notice() -> None:
    out = mark_text("<p>x</p>", "AI生成 <b>", fmt="html")
    assert "AI生成 &lt;b&gt;" in out


def test_streaming_prefix_first_suffix_last() -> None:
    s = StreamingNotice(N, "both")
    chunks = list(s.wrap(["Hel", "lo"]))
    assert chunks[0] == s.prefix and chunks[-1] == s.suffix
    assert "".join(chunks) == f"{N}\n\nHello\n\n{N}"
    assert next(StreamingNotice(N, "start").wrap([])).startswith(N)


def test_streaming_async() -> None:
    async def gen() -> AsyncIterator[str]:
        for c in ["a", "b"]:
            yield c

    async def collect() -> list[str]:
        return [c async for c in StreamingNotice(N, "end").wrap_async(gen())]

    assert asyncio.run(collect()) == ["a", "b", f"\n\n{N}"]


def test_streaming_rejects_bad_notice() -> None:
    with pytest.raises(NoticeError):
        StreamingNotice("Generated")
