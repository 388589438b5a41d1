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

from synthguard.audit.export import export_archive
from synthguard.audit.log import UnknownRecord
from synthguard.audit.merkle import ProofError
from synthguard.audit.service import Audit

router = APIRouter(tags=["audit"])
_RECORD_ID = re.compile(r"[0-9a-f]{32}")


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


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
    size: Annotated[int | None, Query(ge=1, description="Tree size; default: the latest "
                                                         "checkpoint's.")] = None,
) -> Response:
    """The record's leaf, its entry and its audit path to the signed root."""
    if (record_id is None) == (produce_id is None):
        return _error(400, "bad_request", "give exactly one of record_id and produce_id")
    wanted = (record_id or produce_id or "").strip().lower()
    if not _RECORD_ID.fullmatch(wanted):
        return _error(400, "bad_request", "a record id / ProduceID is 32 hexadecimal digits")
    audit = _audit(request)
    latest = audit.checkpoints.latest()
    try:
        index = audit.log.leaf_index(wanted)
        tree_size = size if size is not None else (latest.size if latest else 0)
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
    first: Annotated[int, Query(ge=1, description="The earlier tree size.")],
    second: Annotated[int | None, Query(ge=1, description="The later tree size; default: "
                                                          "the latest checkpoint's.")] = None,
) -> Response:
    """The RFC 9162 consistency proof between two tree sizes."""
    audit = _audit(request)
    if second is None:
        latest = audit.checkpoints.latest()
        if latest is None:
            return _error(404, "no_checkpoint", "no checkpoint has been published yet")
        second = latest.size
    try:
        path = audit.log.consistency_proof(first, second)
    except ProofError as exc:
        return _error(400, "bad_request", str(exc))
    return JSONResponse({"first": first, "second": second, "path": [h.hex() for h in path]})


@router.get("/export", response_class=FileResponse,
            responses={200: {"content": {"application/gzip": {}}}})
def export(
    request: Request,
    since: Annotated[datetime | None, Query(description="Logged at or after (ISO 8601).")] = None,
    until: Annotated[datetime | None, Query(description="Logged before (ISO 8601).")] = None,
) -> Response:
    """The log (or the entries logged in [since, until)) as a verifiable archive."""
    for moment in (since, until):
        if moment is not None and moment.tzinfo is None:
            return _error(400, "bad_request", "since/until need a time zone (e.g. Z)")
    if since and until and since >= until:
        return _error(400, "bad_request", "since must be before until")
    audit = _audit(request)
    if audit.checkpoints.latest() is None:
        return _error(404, "no_checkpoint", "no checkpoint has been published yet")
    work = Path(tempfile.mkdtemp(prefix="synthguard-audit-"))
    try:
        archive = work / "audit-export.tar.gz"
        export_archive(audit.checkpoints, archive, since=since, until=until)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return FileResponse(archive, media_type="application/gzip",
                        filename=f"audit-export-{stamp}.tar.gz",
                        background=BackgroundTask(shutil.rmtree, work, ignore_errors=True))
