"""What the pipeline stages share about one request, and what each stage returns."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from synthguard.accounts import KeyContext
from synthguard.gateway.errors import GatewayError
from synthguard.gateway.schemas import GenerationBody

Scope = Literal["chat", "images", "audio"]
RefusalStatus = Literal["refused", "blocked_input", "error"]


@dataclass(frozen=True)
class Decision:
    """A stage's answer: go on, or stop with an OpenAI-style error. `status` is what
    the request record says about a stop."""

    error: GatewayError | None = None
    status: RefusalStatus = "refused"

    @property
    def allowed(self) -> bool:
        return self.error is None


ALLOW = Decision()


def refuse(error: GatewayError, status: RefusalStatus = "refused") -> Decision:
    return Decision(error, status)


@dataclass
class RequestContext:
    """One generation request on its way through the pipeline. Stages fill it in order;
    the recorder turns it into the request record, whatever stage stopped it."""

    endpoint: str
    scope: Scope
    schema: type[GenerationBody]
    record_id: str
    authorization: str | None
    raw_body: bytes
    started: float = field(default_factory=time.perf_counter)  # perf_counter at app entry
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    key: KeyContext | None = None
    request: GenerationBody | None = None
    model: str | None = None
    input_text: str = ""
    input_digest: str | None = None
    input_review: dict[str, object] | None = None
    enforcement: dict[str, object] | None = None
    enforcement_task: asyncio.Future[dict[str, object]] | None = None
    backend_s: float = 0.0  # time spent waiting for the model server, not our overhead
    client_s: float = 0.0  # time a streaming client took to accept events, not ours either
    response_headers: dict[str, str] = field(default_factory=dict)
    recorded: bool = False

    def overhead_ms(self) -> float:
        elapsed = time.perf_counter() - self.started - self.backend_s - self.client_s
        return round(elapsed * 1000, 3)


class Withheld(Exception):
    """Generated output that may not be released (blocked, unreviewable): the error the
    client gets, the record status, and the output review to record."""

    def __init__(self, error: GatewayError, status: str,
                 output_review: dict[str, object] | None = None) -> None:
        super().__init__(error.code)
        self.error, self.status, self.output_review = error, status, output_review
