"""Explicit labels for text (GB 45438 §5.1): a notice at the start, the end, or both.

The notice goes where it renders: after Markdown front matter, never inside a fenced
code block; inside an HTML body as its own paragraph. Labeling is idempotent: a text
that already carries the notice at a position does not get it twice.
"""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from synthguard.explicit.wording import DEFAULT_ZH, check_notice

Position = Literal["start", "end", "both"]
TextFormat = Literal["plain", "markdown", "html"]

_FRONT_MATTER = re.compile(r"\A(\ufeff?---[ \t]*\r?\n.*?\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z))",
                           re.DOTALL)
_FENCE = re.compile(r"^[ ]{0,3}(`{3,}|~{3,})", re.MULTILINE)
_BODY_OPEN = re.compile(r"<body\b[^>]*>", re.IGNORECASE)
_BODY_CLOSE = re.compile(r"</body\s*>", re.IGNORECASE)
HTML_CLASS = "synthguard-aigc-notice"


def _wants(position: Position, where: str) -> bool:
    return position in (where, "both")


def mark_text(text: str, notice: str = DEFAULT_ZH, *, position: Position = "start",
              fmt: TextFormat = "plain") -> str:
    """Return `text` with the explicit notice added at `position`."""
    notice = check_notice(notice)
    if fmt == "html":
        return _mark_html(text, notice, position)
    if fmt == "markdown":
        return _mark_markdown(text, notice, position)
    return _mark_plain(text, notice, position)


def _mark_plain(text: str, notice: str, position: Position) -> str:
    nl = "\r\n" if "\r\n" in text else "\n"
    body = text
    if _wants(position, "start") and not body.lstrip().startswith(notice):
        body = f"{notice}{nl}{nl}{body}" if body else notice
    if _wants(position, "end") and not body.rstrip().endswith(notice):
        body = f"{body.rstrip()}{nl}{nl}{notice}{nl}" if body.strip() else body
    return body


def _mark_markdown(text: str, notice: str, position: Position) -> str:
    m = _FRONT_MATTER.match(text)
    head, body = (m.group(1), text[m.end():]) if m else ("", text)
    nl = "\r\n" if "\r\n" in text else "\n"
    if _wants(position, "end") and _open_fence(body):
        # An unclosed fence would swallow the notice into the code block; close it.
        fence = _open_fence(body)
        body = f"{body.rstrip()}{nl}{fence}{nl}"
    line = f"> {notice}"
    if _wants(position, "start") and not body.lstrip().startswith(line):
        body = f"{line}{nl}{nl}{body.lstrip(nl)}" if body.strip() else f"{line}{nl}"
    if _wants(position, "end") and not body.rstrip().endswith(line):
        body = f"{body.rstrip()}{nl}{nl}{line}{nl}"
    return head + body


def _open_fence(body: str) -> str | None:
    """The fence string of a code block left open at the end of `body`, if any."""
    open_fence: str | None = None
    for m in _FENCE.finditer(body):
        marker = m.group(1)
        if open_fence is None:
            open_fence = marker
        elif marker[0] == open_fence[0] and len(marker) >= len(open_fence):
            open_fence = None
    return open_fence


def _mark_html(text: str, notice: str, position: Position) -> str:
    para = f'<p class="{HTML_CLASS}" role="note">{html.escape(notice)}</p>'
    body_open = _BODY_OPEN.search(text)
    body_close = _BODY_CLOSE.search(text)
    start = body_open.end() if body_open else 0
    end = body_close.start() if body_close else len(text)
    out = text
    if _wants(position, "end") and not out[:end].rstrip().endswith(para):
        out = out[:end] + para + out[end:]
    if _wants(position, "start") and not out[start:].lstrip().startswith(para):
        out = out[:start] + para + out[start:]
    return out


@dataclass(frozen=True)
class StreamingNotice:
    """The text notice for streamed chat output: the prefix is the first chunk and the
    suffix comes after the last, so a client that renders chunks shows it in place."""

    notice: str = DEFAULT_ZH
    position: Position = "start"

    def __post_init__(self) -> None:
        check_notice(self.notice)

    @property
    def prefix(self) -> str:
        return f"{self.notice}\n\n" if _wants(self.position, "start") else ""

    @property
    def suffix(self) -> str:
        return f"\n\n{self.notice}" if _wants(self.position, "end") else ""

    def wrap(self, chunks: Iterable[str]) -> Iterator[str]:
        if self.prefix:
            yield self.prefix
        yield from chunks
        if self.suffix:
            yield self.suffix

    async def wrap_async(self, chunks: AsyncIterator[str]) -> AsyncIterator[str]:
        if self.prefix:
            yield self.prefix
        async for chunk in chunks:
            yield chunk
        if self.suffix:
            yield self.suffix
