"""What the chat and media services share: the model route, the backend call timed as
the model's time (not our overhead), and the headers every labeled answer carries."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from synthguard.gateway.backends import Backend
from synthguard.gateway.context import RequestContext
from synthguard.gateway.labeling import Labeler
from synthguard.gateway.recording import Recorder
from synthguard.gateway.schemas import upstream_payload
from synthguard.labels import AIGCLabel

OVERHEAD_HEADER = "X-SynthGuard-Overhead-Ms"
T = TypeVar("T")


@dataclass
class GenerationService:
    backends: dict[str, Backend]
    upstream_models: dict[str, str]
    labeler: Labeler
    recorder: Recorder

    def route(self, ctx: RequestContext) -> tuple[Backend, dict[str, Any]]:
        """The admitted request's backend and the body it is sent."""
        assert ctx.request is not None and ctx.model is not None
        return (self.backends[ctx.model],
                upstream_payload(ctx.request, self.upstream_models[ctx.model]))

    @staticmethod
    async def timed(ctx: RequestContext, call: Callable[[], Awaitable[T]]) -> T:
        started = time.perf_counter()
        try:
            return await call()
        finally:
            ctx.backend_s += time.perf_counter() - started

    def headers(self, ctx: RequestContext, label: AIGCLabel) -> dict[str, str]:
        return {**ctx.response_headers, **self.labeler.header(label),
                OVERHEAD_HEADER: f"{ctx.overhead_ms():.3f}"}
