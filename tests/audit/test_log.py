"""The log on SQLite and PostgreSQL: durable appends, the stored tree against an
in-memory rebuild, proofs without the whole log, ingestion, retention, time ranges."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta, timezone

import pytest
from sqlalchemy import func, select, text

from synthguard.accounts.records import Records
from synthguard.audit import merkle
from synthguard.audit.errors import UnknownRecord
from synthguard.audit.log import AuditLog
from synthguard.audit.models import AuditLeaf, AuditNode
from synthguard.audit.service import Audit
from synthguard.store import Database
from tests.audit.conftest import SECRET, START, record


def _rebuilt(log: AuditLog) -> merkle.MemoryTree:
    tree = merkle.MemoryTree()
    for row in log.leaves(0, log.size()):
        assert row.entry is not None
        tree.append(merkle.leaf_hash(row.entry))
    return tree


def test_appends_build_the_rfc_6962_tree(audit: Audit) -> None:
    log = audit.log
    refs = []
    for n in range(37):
        refs += log.append([record(n)] * 1 + ([record(100 + n)] if n % 3 == 0 else []))
    assert [r.index for r in refs] == list(range(len(refs)))
    tree = _rebuilt(log)
    assert log.size() == tree.size == len(refs)
    for size in range(len(refs) + 1):
        assert log.root(size) == tree.root(size)
    for index in range(tree.size):
        proof = log.inclusion_proof(index)
        assert proof == merkle.inclusion_proof(tree, index, tree.size)
        assert merkle.verify_inclusion(index, tree.size, tree.node((0, index)), proof, tree.root())
    for first in range(1, tree.size):
        proof = log.consistency_proof(first)
        assert merkle.verify_consistency(first, tree.size, tree.root(first), tree.root(), proof)


def test_the_stored_tree_has_about_two_nodes_per_leaf(audit: Audit, database: Database) -> None:
    audit.log.append([record(n) for n in range(100)])
    with database.session(readonly=True) as s:
        nodes = s.scalar(select(func.count()).select_from(AuditNode))
    assert nodes == 100 + 50 + 25 + 12 + 6 + 3 + 1


def test_a_record_is_logged_once(audit: Audit) -> None:
    first = record(1)
    (ref,) = audit.log.append([first])
    again = audit.log.append([record(2), first, first])
    assert ref.appended and ref.index == 0
    assert [(r.index, r.appended) for r in again] == [(1, True), (0, False), (0, False)]
    assert audit.log.size() == 2
    assert audit.log.leaf_index(first.id) == 0
    with pytest.raises(UnknownRecord):
        audit.log.leaf_index("0" * 32)


def test_concurrent_appenders_in_two_processes_keep_one_tree(database: Database) -> None:
    """Two AuditLog instances stand for two gateway processes sharing the database; each
    has its own group commit, so their transactions interleave through the head lock."""
    logs = [AuditLog(database, SECRET), AuditLog(database, SECRET)]
    errors: list[BaseException] = []

    def work(log: AuditLog, base: int) -> None:
        try:
            for n in range(base, base + 40):
                log.append([record(n)])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(logs[i % 2], i * 1000)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    tree = _rebuilt(logs[0])
    assert tree.size == 320 == logs[1].size()
    assert logs[0].root() == logs[1].root() == tree.root()
    assert logs[0].commits + logs[1].commits <= 320


def test_async_appends_are_committed_when_they_return(audit: Audit, database: Database) -> None:
    recs = [record(n) for n in range(60)]

    async def main() -> None:
        refs = await asyncio.gather(*(audit.log.append_async([r]) for r in recs))
        assert sorted(ref.index for (ref,) in refs) == list(range(60))

    asyncio.run(main())
    other = Database(database.url.render_as_string(hide_password=False))
    try:
        with other.session(readonly=True) as s:  # a second connection sees them all
            assert s.scalar(select(func.count()).select_from(AuditLeaf)) == 60
    finally:
        other.dispose()
    assert audit.log.commits < 60


def test_ingest_catches_up_in_seq_order_and_skips_logged_records(
        audit: Audit, records: Records) -> None:
    written = [record(n) for n in range(12)]
    for r in written:
        records.write(r)
    audit.log.append([written[5]])  # the gateway logged this one inline
    assert audit.log.ingest_records(records, page=5) == 11
    assert audit.log.ingest_records(records) == 0
    order = [row.record_id for row in audit.log.leaves(0, audit.log.size())]
    assert order == [written[5].id] + [r.id for r in written if r is not written[5]]
    late = record(99)
    records.write(late)
    assert audit.log.ingest_records(records) == 1
    assert audit.log.leaf_index(late.id) == 12


def test_ingest_waits_at_a_gap_until_it_settles(database: Database, records: Records) -> None:
    for n in range(6):
        records.write(record(n))
    with database.session(readonly=True) as s:
        seqs = list(s.scalars(text("SELECT seq FROM request_records ORDER BY seq")))
    with database.session() as s:  # as if an insert had rolled back: a hole in seq
        s.execute(text("DELETE FROM request_records WHERE seq = :seq"), {"seq": seqs[2]})

    def watermark() -> int:
        with database.session(readonly=True) as s:
            return int(s.scalar(text("SELECT ingested_seq FROM audit_head")) or 0)

    patient = AuditLog(database, SECRET, gap_settle_s=3600)
    assert patient.ingest_records(records) == 5  # everything visible is logged ...
    assert watermark() < seqs[2]  # ... but the watermark stays below the hole
    assert patient.ingest_records(records) == 0  # rescanning past the hole adds nothing
    settled = AuditLog(database, SECRET, gap_settle_s=0)
    assert settled.ingest_records(records) == 0
    assert watermark() == seqs[-1]


def test_purge_drops_payloads_but_keeps_the_tree_and_its_proofs(audit: Audit) -> None:
    audit.log.append([record(n) for n in range(10)])
    root, proof = audit.log.root(), audit.log.inclusion_proof(3)
    assert audit.log.purge(retention=timedelta(days=180)).payloads == 0
    later = next(audit.log.leaves(0, 1)).logged_at + timedelta(days=181)
    assert audit.log.purge(now=later).payloads == 10
    rows = list(audit.log.leaves(0, 10))
    assert all(row.entry is None for row in rows)
    assert audit.log.root() == root and audit.log.inclusion_proof(3) == proof
    assert merkle.verify_inclusion(3, 10, rows[3].leaf_hash, proof, root)
    assert audit.log.purge(now=later).payloads == 0


def test_index_range_maps_times_to_contiguous_leaves(audit: Audit) -> None:
    audit.log.append([record(n) for n in range(3)])
    middle = next(audit.log.leaves(2, 3)).logged_at
    audit.log.append([record(n) for n in range(3, 8)])
    after = next(audit.log.leaves(7, 8)).logged_at
    assert audit.log.index_range(None, None) == (0, 8)
    assert audit.log.index_range(middle + timedelta(microseconds=1), None) == (3, 8)
    assert audit.log.index_range(None, middle + timedelta(microseconds=1)) == (0, 3)
    assert audit.log.index_range(after + timedelta(seconds=1), None) == (8, 8)


def test_proof_requests_beyond_the_log_are_errors(audit: Audit) -> None:
    audit.log.append([record(n) for n in range(4)])
    with pytest.raises(merkle.ProofError):
        audit.log.inclusion_proof(0, 5)
    with pytest.raises(merkle.ProofError):
        audit.log.inclusion_proof(4)
    with pytest.raises(merkle.ProofError):
        audit.log.consistency_proof(0, 4)
    assert audit.log.root(0) == merkle.EMPTY_ROOT


def test_timestamps_written_in_bulk_read_back_through_the_models(
        audit: Audit, database: Database) -> None:
    shanghai = timezone(timedelta(hours=8))
    exact = record(1, created_at=START.astimezone(shanghai))  # microsecond 0
    fine = record(2, created_at=START + timedelta(microseconds=7))
    audit.log.append([exact, fine])
    with database.session(readonly=True) as s:
        rows = {row.record_id: row for row in s.scalars(select(AuditLeaf))}
        for rec in (exact, fine):
            row = rows[rec.id]
            assert row.created_at == rec.created_at
            assert row.created_at.utcoffset() == timedelta(0)
            # SQL comparisons against bound parameters agree with the stored form.
            assert s.scalar(select(func.count()).select_from(AuditLeaf).where(
                AuditLeaf.created_at == rec.created_at)) == 1
            assert s.scalar(select(func.count()).select_from(AuditLeaf).where(
                AuditLeaf.logged_at <= row.logged_at, AuditLeaf.logged_at >= row.logged_at)) == 2
