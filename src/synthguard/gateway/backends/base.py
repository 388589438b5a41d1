"""What the gateway asks of a model server, whatever kind it is.

The gateway forwards the client's validated request body (as a dict, with the public
model name replaced by the upstream one and the `synthguard` extension removed) and
gets text, text deltas, PNG images or encoded audio back. Backends raise `BackendError`
for anything the model server did wrong; the gateway turns it into a 502/504.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

# Audio formats the gateway can label: each has a container with a metadata carrier.
# (OpenAI's "aac" is raw ADTS and "pcm" is headerless; neither can hold a label.)
SPEECH_FORMATS = ("mp3", "wav", "flac", "opus")


@dataclass(frozen=True)
class ChatResult:
    text: str
    finish_reason: str
    usage: dict[str, int] | None = None


@dataclass(frozen=True)
class ChatDelta:
    text: str
    finish_reason: str | None = None


class BackendError(Exception):
    """The model server failed: `status` is what the gateway answers (502, 504, or the
    upstream's own 4xx when the upstream rejected the request itself)."""

    def __init__(self, message: str, *, status: int = 502, timeout: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.timeout = timeout


class Backend(Protocol):
    async def chat(self, payload: dict[str, Any]) -> ChatResult: ...

    def chat_stream(self, payload: dict[str, Any]) -> AsyncIterator[ChatDelta]: ...

    async def images(self, payload: dict[str, Any]) -> list[bytes]:
        """PNG (or other Pillow-readable) image files, one per requested image."""
        ...

    async def speech(self, payload: dict[str, Any]) -> bytes:
        """An encoded audio file in `payload["response_format"]` (one of SPEECH_FORMATS)."""
        ...

    async def aclose(self) -> None: ...
