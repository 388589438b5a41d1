"""`POST /v1/chat/completions` after admission: backend → output review → labels →
record → response, for whole answers and for SSE streams.

A stream's chunks are the OpenAI API's (`chat.completion.chunk`, `choices[0].delta`,
`finish_reason` on the last chunk, then `data: [DONE]`); the notice prefix is the first
chunk's content and the suffix the last content chunk. When a stream must stop after it
has started, the client gets an `{"error": {...}}` data event, as the OpenAI API sends,
and no `[DONE]`. The record is committed before the last byte is sent, and also when the
client goes away mid-stream. With the governance services, outputs are matched against the
refuted claims (see gateway/governance.py for how whole answers and streams differ).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
from starlette.responses import JSONResponse, Response, StreamingResponse

from synthguard.accounts import canonical_digest
from synthguard.gateway import errors
from synthguard.gateway.backends import BackendError, ChatDelta
from synthguard.gateway.context import RequestContext, Withheld
from synthguard.gateway.governance import GovernanceChecks, rumor_summary
from synthguard.gateway.recording import RecordFailed
from synthguard.gateway.review import ReviewContext, Reviewer, ReviewFailed
from synthguard.gateway.service import GenerationService
from synthguard.gateway.streaming import HeldBackRelease, OutputBlocked, review_text
from synthguard.labels import AIGCLabel

if TYPE_CHECKING:
    from synthguard.governance.rumors import RumorVerdict

RUMOR_CATEGORY = "refuted rumor"
log = logging.getLogger("synthguard.gateway")


@dataclass
class ChatService(GenerationService):
    reviewer: Reviewer
    window_chars: int
    review_timeout_s: float
    governance: GovernanceChecks | None = None

    async def complete(self, ctx: RequestContext) -> Response:
        backend, payload = self.route(ctx)
        result = await self.timed(ctx, lambda: backend.chat(payload))
        review_ctx = ReviewContext(ctx.record_id, ctx.endpoint, _user(ctx))
        try:
            verdict = await review_text(self.reviewer, result.text, stage="output",
                                        context=review_ctx, timeout_s=self.review_timeout_s)
        except ReviewFailed as exc:
            raise Withheld(errors.review_unavailable(), "error",
                        {"mode": "whole", "decision": "failed", "failure": str(exc),
                         "windows_reviewed": 0}) from None
        review = {"mode": "whole", "reviewer": self.reviewer.name, "windows_reviewed": 1,
                  "decision": "allowed" if verdict.allowed else "blocked", **verdict.as_dict()}
        if not verdict.allowed:
            raise Withheld(errors.output_blocked(verdict.category or "policy"), "blocked_output",
                        review)
        released = result.text
        if self.governance is not None:
            rumor = await self.governance.after_output(result.text, ctx.record_id)
            if rumor.action != "pass":
                review["rumor"] = rumor_summary(rumor)
            if rumor.action == "block":
                raise Withheld(errors.output_blocked(RUMOR_CATEGORY), "blocked_output", review)
            if rumor.notice:
                released = f"{result.text}\n\n{rumor.notice}"
        label = self.labeler.aigc(ctx.record_id)
        text = self.labeler.text(released)
        await self.recorder.write(ctx, "ok", output_digest=canonical_digest(text),
                                  output_review=review,
                                  labels=self.labeler.text_record(label, streamed=False))
        body = {
            "id": f"chatcmpl-{ctx.record_id}", "object": "chat.completion",
            "created": int(time.time()), "model": ctx.model, "system_fingerprint": None,
            "choices": [{"index": 0, "finish_reason": result.finish_reason, "logprobs": None,
                         "message": {"role": "assistant", "content": text,
                                     "refusal": None}}],
            "usage": result.usage, "synthguard": self.labeler.extension(label)}
        return JSONResponse(body, headers=self.headers(ctx, label))

    async def stream(self, ctx: RequestContext) -> Response:
        backend, payload = self.route(ctx)
        deltas = _Timed(backend.chat_stream({**payload, "stream": True}), ctx)
        # Wait for the model's first delta before answering: a model server that fails at
        # once gets a proper HTTP error instead of a stream that errors immediately.
        first = await deltas.first()
        label = self.labeler.aigc(ctx.record_id)
        headers = self.headers(ctx, label)
        return StreamingResponse(_paced(ctx, self._events(ctx, deltas, first, label)),
                                 media_type="text/event-stream",
                                 headers={**headers, "Cache-Control": "no-cache"})

    async def _events(self, ctx: RequestContext, deltas: _Timed, first: ChatDelta | None,
                      label: AIGCLabel) -> AsyncGenerator[bytes, None]:
        chunks = _Chunks(f"chatcmpl-{ctx.record_id}", ctx.model or "",
                         self.labeler.extension(label))
        release = HeldBackRelease(self.reviewer,
                                  ReviewContext(ctx.record_id, ctx.endpoint, _user(ctx)),
                                  window_chars=self.window_chars,
                                  timeout_s=self.review_timeout_s)
        notice = self.labeler.streaming
        status, error, finished = "error", None, False
        sent: list[str] = []  # what the client was sent of the model's text (and notices)
        rumor: RumorVerdict | None = None
        try:
            yield chunks.make({"role": "assistant", "content": notice.prefix}, first=True)
            async for window in release.release(deltas.texts(first)):
                if self.governance is not None:
                    seen = (sent[-1] if sent else "") + window
                    if (await self.governance.preview(seen)).action == "block":
                        rumor = await self.governance.after_output(seen, ctx.record_id)
                        raise _RumorBlocked
                sent.append(window)
                yield chunks.make({"content": window})
            if self.governance is not None:
                rumor = await self.governance.after_output("".join(sent), ctx.record_id)
                if rumor.action == "block":  # a claim spread over more than two windows
                    raise _RumorBlocked
                if rumor.notice:
                    sent.append(f"\n\n{rumor.notice}")
                    yield chunks.make({"content": sent[-1]})
            if notice.suffix:
                yield chunks.make({"content": notice.suffix})
            status = "ok"
        except _RumorBlocked:
            status, error = "blocked_output", errors.output_blocked(RUMOR_CATEGORY)
        except OutputBlocked as exc:
            status, error = "blocked_output", errors.output_blocked(exc.result.category
                                                                    or "policy")
        except ReviewFailed:
            error = errors.review_unavailable()
        except BackendError as exc:
            error = (errors.upstream_timeout() if exc.timeout
                     else errors.upstream_error(str(exc), exc.status))
        except Exception:
            log.exception("stream failed", extra={"event": "internal_error",
                                                  "record_id": ctx.record_id})
            error = errors.internal_error()
        finally:
            # Runs on client disconnect too (the generator is cancelled or closed), so
            # the record is shielded from that cancellation.
            with anyio.CancelScope(shield=True):
                await deltas.aclose()
                report = release.report.as_dict()
                if rumor is not None and rumor.action != "pass":
                    report["rumor"] = rumor_summary(rumor)
                released = notice.prefix + "".join(sent)
                if status == "ok":
                    released += notice.suffix
                code = error.code if error else (None if status == "ok" else
                                                 "client_disconnected")
                try:
                    await self.recorder.write(
                        ctx, status, error_code=code, output_digest=canonical_digest(released),
                        output_review={"reviewer": self.reviewer.name, **report},
                        labels=self.labeler.text_record(label, streamed=True))
                    finished = True
                except RecordFailed:
                    error = errors.store_unavailable()
        if error is not None:
            yield error.sse_event()
        elif finished:
            yield chunks.make({}, finish_reason=deltas.finish_reason or "stop")
            yield b"data: [DONE]\n\n"


async def _paced(ctx: RequestContext, events: AsyncGenerator[bytes, None]
                 ) -> AsyncIterator[bytes]:
    """Passes the events on, charging the time the client takes to accept each one to the
    client, not to our overhead; closing this closes `events` (its record is written)."""
    async with aclosing(events):
        async for event in events:
            started = time.perf_counter()
            yield event
            ctx.client_s += time.perf_counter() - started


class _RumorBlocked(Exception):
    """The output matches a refuted claim whose policy is to withhold it."""


def _user(ctx: RequestContext) -> str | None:
    return ctx.key.user_id if ctx.key else None


class _Timed:
    """The backend's deltas, with the time spent waiting on them charged to the backend
    (so the overhead figure is ours alone) and the model's finish reason kept."""

    def __init__(self, source: AsyncIterator[ChatDelta], ctx: RequestContext) -> None:
        self._source = source
        self._ctx = ctx
        self.finish_reason: str | None = None

    async def _next(self) -> ChatDelta | None:
        started = time.perf_counter()
        try:
            return await self._source.__anext__()
        except StopAsyncIteration:
            return None
        finally:
            self._ctx.backend_s += time.perf_counter() - started

    async def first(self) -> ChatDelta | None:
        return await self._next()

    async def aclose(self) -> None:
        """Stop the model server's stream (and free its connection) when we stop early."""
        close = getattr(self._source, "aclose", None)
        if close is not None:
            try:
                await close()
            except Exception as exc:
                log.warning("closing the model stream failed",
                            extra={"event": "backend_close", "error": type(exc).__name__})

    async def texts(self, first: ChatDelta | None) -> AsyncIterator[str]:
        delta = first
        while delta is not None:
            if delta.finish_reason:
                self.finish_reason = delta.finish_reason
            if delta.text:
                yield delta.text
            delta = await self._next()


class _Chunks:
    def __init__(self, chunk_id: str, model: str, extension: dict[str, Any]) -> None:
        self._base = {"id": chunk_id, "object": "chat.completion.chunk",
                      "created": int(time.time()), "model": model, "system_fingerprint": None}
        self._extension = extension

    def make(self, delta: dict[str, Any], *, first: bool = False,
             finish_reason: str | None = None) -> bytes:
        chunk: dict[str, Any] = {**self._base, "choices": [
            {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]}
        if first or finish_reason:
            chunk["synthguard"] = self._extension
        return b"data: " + json.dumps(chunk, ensure_ascii=False).encode() + b"\n\n"
