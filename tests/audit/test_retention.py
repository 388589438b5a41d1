"""Retention on SQLite and PostgreSQL: request records past the retention period go
once the log holds them (never before), entry payloads go while their hashes stay, in
bounded batches; the tree, checkpoints, old proofs, exports and the verifier are all
still good afterwards."""

from __future__ import annotations

import asyncio
import io
import json
import tarfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.engine import Connection

from synthguard.accounts.records import Records, RequestRecord
from synthguard.audit import merkle
from synthguard.audit.checkpoint import open_checkpoint
from synthguard.audit.export import export_archive
from synthguard.audit.models import AuditLeaf
from synthguard.audit.service import Audit, AuditSettings
from synthguard.audit.verify import verify_archive
from synthguard.config import Config
from synthguard.store import Database
from synthguard.store.models import RequestRecordRow
from tests.audit.conftest import ORIGIN, SECRET, SIGNER, record

RETENTION = timedelta(days=180)


def _aged(n: int, age: timedelta) -> RequestRecord:
    return record(n, created_at=datetime.now(UTC) - age + timedelta(seconds=n))


def _stored_ids(database: Database) -> set[str]:
    with database.session(readonly=True) as s:
        return set(s.scalars(select(RequestRecordRow.id)))


def _leaf_count(database: Database) -> int:
    with database.session(readonly=True) as s:
        return s.scalar(select(func.count()).select_from(AuditLeaf)) or 0


def test_only_old_records_the_log_holds_are_deleted(
        audit: Audit, records: Records, database: Database) -> None:
    old = [_aged(n, timedelta(days=200)) for n in range(6)]
    recent = [_aged(n, timedelta(days=10)) for n in range(6, 9)]
    for r in old + recent:
        records.write(r)
    assert audit.log.ingest_records(records) == 9
    late = _aged(9, timedelta(days=300))  # old, but written after the log's last ingest
    records.write(late)

    report = audit.log.purge()
    assert (report.records, report.unlogged, report.payloads) == (6, 1, 0)
    assert _stored_ids(database) == {r.id for r in recent} | {late.id}
    assert _leaf_count(database) == 9  # the log itself keeps every leaf

    assert audit.log.ingest_records(records) == 1  # the log gets it first ...
    assert audit.log.leaf_index(late.id) == 9
    newer = _aged(10, timedelta(days=1))  # (on SQLite the newest record always stays)
    records.write(newer)
    report = audit.log.purge()  # ... then it goes
    assert (report.records, report.unlogged) == (1, 0)
    assert _stored_ids(database) == {r.id for r in recent} | {newer.id}
    assert audit.log.purge().records == 0


def test_a_record_that_never_reached_the_log_is_kept(
        audit: Audit, records: Records, database: Database) -> None:
    unlogged = _aged(0, timedelta(days=400))
    records.write(unlogged)
    report = audit.log.purge(retention=timedelta(days=1))
    assert (report.records, report.unlogged) == (0, 1)
    assert _stored_ids(database) == {unlogged.id}


def test_the_cutoff_follows_the_retention_period(
        audit: Audit, records: Records, database: Database) -> None:
    for n, days in enumerate((400, 200, 100, 20)):
        records.write(_aged(n, timedelta(days=days)))
    audit.log.ingest_records(records)
    assert audit.log.purge(retention=timedelta(days=365)).records == 1
    assert audit.log.purge().records == 1  # the configured 180 days
    assert audit.log.purge(retention=timedelta(days=30)).records == 1
    assert len(_stored_ids(database)) == 1


def test_records_written_after_everything_was_purged_are_still_logged(
        audit: Audit, records: Records, database: Database) -> None:
    """The catch-up ingest reads records above its watermark in seq order: a purge must
    never let a new record get a seq below it (SQLite hands out max(seq) + 1, so there
    the newest record stays)."""
    old = [_aged(n, timedelta(days=300)) for n in range(5)]
    for r in old:
        records.write(r)
    audit.catch_up(records)
    report = audit.log.purge()
    assert report.records == (4 if database.is_sqlite else 5)
    fresh = [_aged(n, timedelta(0)) for n in range(5, 8)]
    for r in fresh:
        records.write(r)
    assert audit.log.ingest_records(records) == 3
    assert [audit.log.leaf_index(r.id) for r in fresh] == [5, 6, 7]


@pytest.fixture
def statements(database: Database) -> Iterator[list[tuple[str, int]]]:
    """(statement, rows affected) for every UPDATE and DELETE sent to the database."""
    seen: list[tuple[str, int]] = []

    def after(conn: Connection, cursor: Any, statement: str, *args: object) -> None:
        verb = statement.lstrip().split(None, 1)[0].upper()
        if verb in ("UPDATE", "DELETE"):
            seen.append((statement, cursor.rowcount))

    event.listen(database.engine, "after_cursor_execute", after)
    yield seen
    event.remove(database.engine, "after_cursor_execute", after)


def test_a_backlog_goes_in_bounded_transactions(
        audit: Audit, records: Records, database: Database,
        statements: list[tuple[str, int]]) -> None:
    for n in range(23):
        records.write(_aged(n, timedelta(days=365)))
    audit.log.ingest_records(records)
    later = datetime.now(UTC) + RETENTION + timedelta(days=1)
    statements.clear()
    report = audit.log.purge(now=later, batch=5)
    expected = 22 if database.is_sqlite else 23  # SQLite keeps the newest record
    assert (report.payloads, report.records) == (23, expected)
    deletes = [rows for sql, rows in statements if sql.startswith("DELETE FROM request_records")]
    updates = [rows for sql, rows in statements if sql.startswith("UPDATE audit_leaves")]
    assert len(deletes) + len(updates) == len(statements)
    assert (sum(updates), sum(deletes)) == (23, expected)
    assert max(deletes) <= 5 and max(updates) <= 5
    assert len(deletes) == len(updates) == 5  # 5 + 5 + 5 + 5 + 3 (or 2)
    assert len(_stored_ids(database)) == 23 - expected


def test_after_purging_the_tree_proofs_and_checkpoints_still_verify(
        audit: Audit, records: Records, database: Database) -> None:
    for n in range(11):
        records.write(_aged(n, timedelta(days=250)))
    audit.catch_up(records)
    signed = audit.checkpoints.latest()
    assert signed is not None and signed.size == 11
    leaf = merkle.leaf_hash(next(audit.log.leaves(4, 5)).entry or b"")
    inclusion = audit.log.inclusion_proof(4, 11)

    later = datetime.now(UTC) + RETENTION + timedelta(days=1)
    report = audit.log.purge(now=later)
    assert (report.payloads, report.records) == (11, 10 if database.is_sqlite else 11)
    assert audit.log.root(11) == signed.root
    assert audit.log.inclusion_proof(4, 11) == inclusion  # the old proof is the proof
    assert merkle.verify_inclusion(4, 11, leaf, inclusion, signed.root)
    assert next(audit.log.leaves(4, 5)).leaf_hash == leaf

    for n in range(11, 16):
        records.write(_aged(n, timedelta(days=1)))
    audit.catch_up(records)  # the log grows on, signed consistent with before
    latest = audit.checkpoints.latest()
    assert latest is not None and latest.size == 16
    open_checkpoint(latest.note, SIGNER.verifier, ORIGIN)
    assert merkle.verify_consistency(11, 16, signed.root, latest.root,
                                     audit.log.consistency_proof(11, 16))
    assert audit.log.inclusion_proof(4, 16) != inclusion
    assert merkle.verify_inclusion(4, 16, leaf, audit.log.inclusion_proof(4, 16), latest.root)


def _archive_leaves(archive: Path) -> list[dict[str, Any]]:
    with tarfile.open(archive) as tar:
        member = tar.extractfile("leaves.jsonl")
        assert member is not None
        return [json.loads(line) for line in member]


def test_exports_of_a_purged_log_say_what_is_purged_and_verify(
        audit: Audit, records: Records, tmp_path: Path) -> None:
    for n in range(7):
        records.write(_aged(n, timedelta(days=250)))
    audit.catch_up(records)
    for n in range(7, 12):
        records.write(_aged(n, timedelta(days=2)))
    audit.catch_up(records)
    second_batch = next(audit.log.leaves(7, 8)).logged_at
    # As if the first batch had been logged past retention and the second just inside.
    report = audit.log.purge(now=second_batch + RETENTION)
    assert report.payloads == 7
    assert audit.log.purged_ranges(0, 12) == [(0, 7)]
    assert audit.log.purged_ranges(3, 9) == [(3, 7)]

    full = tmp_path / "full.tar.gz"
    export_archive(audit.checkpoints, full)
    verified = verify_archive(full, SIGNER.verifier)
    assert verified.ok, verified.findings
    assert (verified.entries, verified.purged) == (12, 7)

    ranged = tmp_path / "range.tar.gz"
    first_logged = next(audit.log.leaves(0, 1)).logged_at
    export_archive(audit.checkpoints, ranged, since=first_logged,
                   until=second_batch + timedelta(microseconds=1))
    verified = verify_archive(ranged, SIGNER.verifier)
    assert verified.ok, verified.findings
    assert verified.kind == "range" and (verified.entries, verified.purged) == (12, 7)
    assert verified.proofs >= 12
    leaves = _archive_leaves(ranged)
    assert [line["index"] for line in leaves if line["entry"] is None] == list(range(7))
    assert all(line["leaf_hash"] and line["record_id"] for line in leaves)

    # A purged leaf is only as good as its hash: a changed one no longer proves.
    with tarfile.open(ranged) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar}  # type: ignore[union-attr]
    lines = members["leaves.jsonl"].decode().splitlines()
    tampered = json.loads(lines[2])
    tampered["leaf_hash"] = "00" * 32
    lines[2] = json.dumps(tampered, separators=(",", ":"))
    members["leaves.jsonl"] = ("\n".join(lines) + "\n").encode()
    forged = tmp_path / "forged.tar.gz"
    with tarfile.open(forged, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    report_forged = verify_archive(forged, SIGNER.verifier)
    assert not report_forged.ok
    assert report_forged.first_bad is not None and report_forged.first_bad.index == 2


def test_the_background_task_applies_retention_after_logging(
        database: Database, records: Records) -> None:
    audit = Audit(database, Config(secret=SECRET, producer_code=""),
                  AuditSettings(origin=ORIGIN, signer=SIGNER, retention=RETENTION,
                                checkpoint_interval_s=0.02))
    old = [_aged(n, timedelta(days=200)) for n in range(4)]
    recent = _aged(4, timedelta(days=1))
    for r in [*old, recent]:
        records.write(r)

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(audit.run_background(records, stop))
        for _ in range(500):  # bounded: until the first round has purged
            if _stored_ids(database) == {recent.id}:
                break
            await asyncio.sleep(0.01)
        stop.set()
        await task

    asyncio.run(main())
    assert _stored_ids(database) == {recent.id}
    latest = audit.checkpoints.latest()
    assert latest is not None and latest.size == 5  # every record was logged first
    for r in old:
        assert audit.log.leaf_index(r.id) < 5
