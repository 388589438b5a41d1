"""Retention: what goes once the retention period has passed, and what stays.

Two things go:

- the payload (canonical JSON entry) of leaves logged before the cutoff. The leaf
  hashes stay in the tree, so roots, signed checkpoints and inclusion and consistency
  proofs, old and new, still verify; an export shows a purged leaf with `"entry": null`
  beside its leaf hash, which its proof authenticates;
- the gateway's request records (the source of the entries) created before the
  cutoff, but only those the log already holds: the log gets every record first, and a
  record not appended yet stays until it is (the next round deletes it). On SQLite the
  newest record also stays (see `_delete_logged_records`).

Both go in batches, each its own short transaction, so that a large backlog never
holds the write lock for long: on SQLite one writer at a time, and the gateway's
appends wait for it. Which rows a batch takes is read first without the write lock;
the write then re-checks every condition, so a row that changed in between is left.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, exists, func, select, update
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Exists

from synthguard.audit.models import AuditLeaf
from synthguard.store.db import Database
from synthguard.store.models import RequestRecordRow

PURGE_BATCH = 1000  # rows per write transaction

log = logging.getLogger("synthguard.audit")


@dataclass(frozen=True)
class PurgeReport:
    cutoff: datetime
    payloads: int  # leaf payloads dropped (their hashes stay)
    records: int  # request records deleted, each already in the log
    unlogged: int  # request records past the cutoff kept: the log does not hold them yet


def _logged() -> Exists:
    """The record has a leaf. Correlated per row: an index lookup on the leaves' unique
    record_id, never a scan of the whole log."""
    return exists().where(AuditLeaf.record_id == RequestRecordRow.id)


def purge(db: Database, *, cutoff: datetime, now: datetime,
          batch: int = PURGE_BATCH) -> PurgeReport:
    """Drop the payloads of leaves logged before `cutoff` and delete the request records
    created before it that the log holds, `batch` rows per transaction."""
    if batch < 1:
        raise ValueError("batch must be at least 1")
    payloads = _purge_payloads(db, cutoff, now, batch)
    records = _delete_logged_records(db, cutoff, batch)
    with db.session(readonly=True) as s:
        unlogged = s.scalar(select(func.count()).select_from(RequestRecordRow).where(
            RequestRecordRow.created_at < cutoff,
            ~_logged())) or 0
    report = PurgeReport(cutoff, payloads, records, int(unlogged))
    if payloads or records:
        log.info("audit retention purge", extra={
            "event": "audit_purge", "leaves": payloads, "records": records,
            "cutoff": cutoff.isoformat()})
    if report.unlogged:
        log.warning("request records past retention are not in the audit log yet; kept "
                    "until they are", extra={"event": "audit_purge_unlogged",
                                             "records": report.unlogged})
    return report


def _purge_payloads(db: Database, cutoff: datetime, now: datetime, batch: int) -> int:
    return _in_batches(db, AuditLeaf.idx,
                       [AuditLeaf.logged_at < cutoff, AuditLeaf.entry.is_not(None)],
                       lambda rows: update(AuditLeaf).where(rows)
                       .values(entry=None, purged_at=now), batch)


def _delete_logged_records(db: Database, cutoff: datetime, batch: int) -> int:
    old: list[ColumnElement[bool]] = [RequestRecordRow.created_at < cutoff, _logged()]
    if db.is_sqlite:
        # SQLite gives a new row max(seq) + 1: deleting the newest record would let the
        # next one reuse a seq that the ingest watermark has already passed, and the
        # catch-up ingest would never log it. So the newest record always stays.
        with db.session(readonly=True) as s:
            newest = s.scalar(select(func.max(RequestRecordRow.seq)))
        if newest is None:
            return 0
        old.append(RequestRecordRow.seq < newest)
    return _in_batches(db, RequestRecordRow.seq, old,
                       lambda rows: delete(RequestRecordRow).where(rows), batch)


def _in_batches(db: Database, key: InstrumentedAttribute[int],
                conditions: list[ColumnElement[bool]],
                write: Callable[[ColumnElement[bool]], UpdateBase], batch: int) -> int:
    """Run `write` over the rows meeting `conditions`, at most `batch` of them per
    transaction, in `key` order; returns the rows written. The keys of a batch are read
    without the write lock; the write takes their key range and the conditions again."""
    done, last = 0, None
    while True:
        with db.session(readonly=True) as s:
            query = select(key).where(*conditions)
            if last is not None:
                query = query.where(key > last)
            keys = s.scalars(query.order_by(key).limit(batch)).all()
        if not keys:
            return done
        with db.session() as s:
            result = s.execute(write(and_(key >= keys[0], key <= keys[-1], *conditions))
                               .execution_options(synchronize_session=False))
            done += int(getattr(result, "rowcount", 0) or 0)
        last = keys[-1]
        if len(keys) < batch:
            return done


def purged_ranges(db: Database, start: int, end: int) -> Iterator[tuple[int, int]]:
    """The runs [first, stop) of leaves in [start, end) whose payload was purged."""
    first = stop = -1
    at = start
    while at < end:
        with db.session(readonly=True) as s:
            indices = s.scalars(select(AuditLeaf.idx).where(
                AuditLeaf.idx >= at, AuditLeaf.idx < end, AuditLeaf.entry.is_(None))
                .order_by(AuditLeaf.idx).limit(PURGE_BATCH * 10)).all()
        for index in indices:
            if index != stop:
                if stop > first:
                    yield first, stop
                first = index
            stop = index + 1
        if len(indices) < PURGE_BATCH * 10:
            break
        at = indices[-1] + 1
    if stop > first:
        yield first, stop
