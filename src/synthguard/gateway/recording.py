"""The durable record stage: one record per request, allowed or refused, committed before
the response completes; and the one structured log line per request that goes with it.

A request that cannot be recorded gets no generated content: `RecordFailed` makes the
caller answer 503 instead. With an audit log, the record and its Merkle leaf (issue 7) are
committed in one transaction, batched with concurrent requests', before the response
completes. If that fails, the record is still written on its own when the store takes
it (the audit service's background ingest appends it later) and the request gets 503.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import anyio

from synthguard.accounts import Records, RequestRecord
from synthguard.gateway.context import RequestContext

if TYPE_CHECKING:
    from synthguard.audit.log import AuditLog

log = logging.getLogger("synthguard.gateway")


class RecordFailed(Exception):
    """The record store did not take the record."""


class Recorder:
    def __init__(self, records: Records, audit_log: AuditLog | None = None) -> None:
        self._records = records
        self._audit_log = audit_log

    def new_id(self) -> str:
        return self._records.new_id()

    async def write(self, ctx: RequestContext, status: str, *, error_code: str | None = None,
                    output_digest: str | None = None,
                    output_review: dict[str, Any] | None = None,
                    labels: dict[str, Any] | None = None) -> float:
        """Commit the request's record; returns the overhead it recorded, in ms."""
        if ctx.recorded:
            raise RuntimeError(f"request {ctx.record_id} is already recorded")
        if ctx.enforcement_task is not None:
            try:
                ctx.enforcement = await ctx.enforcement_task
            except Exception as exc:
                ctx.enforcement = {"failed": type(exc).__name__}
            ctx.enforcement_task = None
        key = ctx.key
        overhead = ctx.overhead_ms()
        record = RequestRecord(
            id=ctx.record_id, created_at=ctx.created_at,
            org_id=key.org_id if key else None, user_id=key.user_id if key else None,
            key_id=key.key_id if key else None, endpoint=ctx.endpoint, model=ctx.model,
            status=status, input_digest=ctx.input_digest, output_digest=output_digest,
            input_review=ctx.input_review, output_review=output_review, labels=labels,
            enforcement=ctx.enforcement, error_code=error_code, overhead_ms=overhead)
        if self._audit_log is None:
            await self._store(ctx, record)
        else:
            try:
                await self._audit_log.append_async([record], store=True)
            except Exception as exc:
                log.error("request record not appended to the audit log", extra={
                    "event": "audit_append_failed", "record_id": ctx.record_id,
                    "error": type(exc).__name__})
                # Keep the record on its own if the store takes it: the audit service's
                # ingest appends it later. The request still fails, as it must.
                await self._store(ctx, record)
                raise RecordFailed(ctx.record_id) from exc
        ctx.recorded = True
        log.info("request", extra={
            "event": "request", "record_id": ctx.record_id, "endpoint": ctx.endpoint,
            "model": ctx.model, "status": status, "error_code": error_code,
            "key_id": key.key_id if key else None, "overhead_ms": overhead})
        return overhead

    async def _store(self, ctx: RequestContext, record: RequestRecord) -> None:
        try:
            await anyio.to_thread.run_sync(self._records.write, record)
        except Exception as exc:
            log.error("request record not written", extra={
                "event": "record_failed", "record_id": ctx.record_id,
                "error": type(exc).__name__})
            raise RecordFailed(ctx.record_id) from exc
        ctx.recorded = True
