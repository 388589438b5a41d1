"""HTTP endpoints of the audit log: latest checkpoint, inclusion proof by record id or
ProduceID, consistency proof, export.

Mount with `app.include_router(router, prefix="/audit")`; the handlers read the
`Audit` service from `app.state.audit`. Errors are `{"error": {"code", "message"}}`
with 4xx for bad input. Proofs default to the latest signed checkpoint, so what a
client gets always checks against a signed root. Handlers are plain functions:
FastAPI runs them in its thread pool, off the event loop.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.background import BackgroundTask

from synthguard.audit.errors import UnknownRecord
from synthguard.audit.export import export_archive
from synthguard.audit.merkle import ProofError
from synthguard.audit.service import Audit
from synthguard.http_errors import error_response

router = APIRouter(tags=["audit"])
_RECORD_ID = re.compile(r"[0-9a-f]{32}")


def _error(status: int, code: str, message: str) -> JSONResponse:
    return error_response(status, code, message)


class _BadInput(ValueError):
    pass


# Query values are parsed here rather than by FastAPI so that bad input gets this
# module's error body (FastAPI's own validation answers 422 in another shape).
def _size(text: str | None, name: str) -> int | None:
    if text is None:
        return None
    if not text.isdigit() or int(text) < 1:
        raise _BadInput(f"{name} must be a positive whole number")
    return int(text)


def _moment(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise _BadInput(f"{name} is not an ISO 8601 date/time") from None
    if value.tzinfo is None:
        raise _BadInput(f"{name} needs a time zone (e.g. Z)")
    return value


def _audit(request: Request) -> Audit:
    audit = getattr(request.app.state, "audit", None)
    if not isinstance(audit, Audit):
        raise RuntimeError("app.state.audit is not set")
    return audit


@router.get("/checkpoint", response_class=PlainTextResponse,
            responses={404: {"description": "No checkpoint published yet"}})
def latest_checkpoint(request: Request) -> Response:
    """The latest signed checkpoint, as a C2SP signed note (text/plain)."""
    latest = _audit(request).checkpoints.latest()
    if latest is None:
        return _error(404, "no_checkpoint", "no checkpoint has been published yet")
    return PlainTextResponse(latest.note)


@router.get("/proof/inclusion")
def inclusion_proof(
    request: Request,
    record_id: Annotated[str | None, Query(description="Gateway record id.")] = None,
    produce_id: Annotated[str | None, Query(
        description="The label's ProduceID (the gateway uses the record id).")] = None,
    size: Annotated[str | None, Query(description="Tree size; default: the latest "
                                                   "checkpoint's.")] = None,
) -> Response:
    """The record's leaf, its entry and its audit path to the signed root."""
    if (record_id is None) == (produce_id is None):
        return _error(400, "bad_request", "give exactly one of record_id and produce_id")
    wanted = (record_id or produce_id or "").strip().lower()
    if not _RECORD_ID.fullmatch(wanted):
        return _error(400, "bad_request", "a record id / ProduceID is 32 hexadecimal digits")
    try:
        requested = _size(size, "size")
    except _BadInput as exc:
        return _error(400, "bad_request", str(exc))
    audit = _audit(request)
    latest = audit.checkpoints.latest()
    try:
        index = audit.log.leaf_index(wanted)
        tree_size = requested if requested is not None else (latest.size if latest else 0)
        if index >= tree_size:
            return _error(409, "not_yet_checkpointed",
                          f"record {wanted} is leaf {index}, not yet covered by a checkpoint "
                          f"of size {tree_size}; retry after the next checkpoint")
        path = audit.log.inclusion_proof(index, tree_size)
        leaf = next(audit.log.leaves(index, index + 1), None)
    except UnknownRecord as exc:
        return _error(404, exc.code, str(exc))
    except ProofError as exc:
        return _error(400, "bad_request", str(exc))
    checkpoint = latest.note if latest and latest.size == tree_size else None
    return JSONResponse({
        "record_id": wanted, "index": index, "tree_size": tree_size,
        "leaf_hash": leaf.leaf_hash.hex() if leaf else None,
        "entry": leaf.entry.decode("utf-8") if leaf and leaf.entry is not None else None,
        "path": [h.hex() for h in path], "checkpoint": checkpoint,
    })


@router.get("/proof/consistency")
def consistency_proof(
    request: Request,
    first: Annotated[str, Query(description="The earlier tree size.")],
    second: Annotated[str | None, Query(description="The later tree size; default: the "
                                                    "latest checkpoint's.")] = None,
) -> Response:
    """The RFC 9162 consistency proof between two tree sizes."""
    try:
        earlier, later = _size(first, "first"), _size(second, "second")
    except _BadInput as exc:
        return _error(400, "bad_request", str(exc))
    assert earlier is not None
    audit = _audit(request)
    if later is None:
        latest = audit.checkpoints.latest()
        if latest is None:
            return _error(404, "no_checkpoint", "no checkpoint has been published yet")
        later = latest.size
    try:
        path = audit.log.consistency_proof(earlier, later)
    except ProofError as exc:
        return _error(400, "bad_request", str(exc))
    return JSONResponse({"first": earlier, "second": later, "path": [h.hex() for h in path]})


@router.get("/export", response_class=FileResponse,
            responses={200: {"content": {"application/gzip": {}}}})
def export(
    request: Request,
    since: Annotated[str | None, Query(description="Logged at or after (ISO 8601).")] = None,
    until: Annotated[str | None, Query(description="Logged before (ISO 8601).")] = None,
) -> Response:
    """The log (or the entries logged in [since, until)) as a verifiable archive."""
    try:
        start, end = _moment(since, "since"), _moment(until, "until")
    except _BadInput as exc:
        return _error(400, "bad_request", str(exc))
    if start and end and start >= end:
        return _error(400, "bad_request", "since must be before until")
    audit = _audit(request)
    if audit.checkpoints.latest() is None:
        return _error(404, "no_checkpoint", "no checkpoint has been published yet")
    work = Path(tempfile.mkdtemp(prefix="synthguard-audit-"))
    try:
        archive = work / "audit-export.tar.gz"
        export_archive(audit.checkpoints, archive, since=start, until=end)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return FileResponse(archive, media_type="application/gzip",
                        filename=f"audit-export-{stamp}.tar.gz",
                        background=BackgroundTask(shutil.rmtree, work, ignore_errors=True))
