"""Fuzz target for the Markdown carrier: any input either reads and relabels, or is
refused with a SynthGuardError; every other exception is a bug."""

from __future__ import annotations

import io

from synthguard.errors import SynthGuardError
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.carriers import markdown

LABEL = AIGCLabel.create(producer="001191110102MACQD9K64010000", produce_id="fuzz-1")


def target(data: bytes) -> None:
    try:
        markdown.read(io.BytesIO(data))
    except SynthGuardError:
        return
    try:
        markdown.write(io.BytesIO(data), io.BytesIO(), LABEL)
    except SynthGuardError:
        pass


def seeds() -> list[bytes]:
    """No front matter, front matter with comments, a list and a mapping label (CRLF,
    BOM), and a labelled file."""
    out = [
        b"# Title\n\nBody text.\n",
        b"---\ntitle: T # note\ntags:\n- a\n- b\n---\nBody\n",
        "\ufeff---\r\nAIGC:\r\n  Label: '1'\r\n  ContentProducer: x\r\n...\r\nBody\r\n".encode(),
    ]
    labelled = io.BytesIO()
    markdown.write(io.BytesIO(out[1]), labelled, LABEL)
    out.append(labelled.getvalue())
    return out
