"""Tampering on a real database (SQLite and PostgreSQL): rows of the audit log edited,
deleted, reordered and inserted directly in SQL, checkpoints forged; the standalone
verifier, given only the public key and an export, names the first bad entry."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from synthguard.audit.canonical import record_entry
from synthguard.audit.checkpoint import Checkpoint
from synthguard.audit.errors import AuditAlarm
from synthguard.audit.export import export_archive
from synthguard.audit.merkle import leaf_hash
from synthguard.audit.note import NoteSigner
from synthguard.audit.service import Audit
from synthguard.audit.verify import VerifyReport, verify_archive
from synthguard.store import Database
from tests.audit.conftest import ORIGIN, SECRET, SIGNER, record

SIZE = 40
EDIT = "replace(entry, '/v1/chat/completions', '/v1/images/generations')"


@pytest.fixture
def signed(audit: Audit) -> Audit:
    """40 entries under checkpoints of size 10, 25 and 40."""
    for start, stop in ((0, 10), (10, 25), (25, SIZE)):
        audit.log.append([record(n) for n in range(start, stop)])
        audit.checkpoints.publish()
    return audit


def _sql(database: Database, *statements: str, **params: object) -> None:
    with database.session() as s:
        for statement in statements:
            s.execute(text(statement), params)


def _verify(audit: Audit, tmp_path: Path, **range_: object) -> VerifyReport:
    archive = tmp_path / f"export-{len(list(tmp_path.iterdir()))}.tar.gz"
    export_archive(audit.checkpoints, archive, **range_)  # type: ignore[arg-type]
    return verify_archive(archive, SIGNER.verifier)


def _first_bad(report: VerifyReport) -> int | None:
    assert not report.ok
    first = report.first_bad
    return None if first is None else first.index


def _record_id(database: Database, index: int) -> str:
    with database.session(readonly=True) as s:
        return str(s.scalar(text("SELECT record_id FROM audit_leaves WHERE idx = :i"),
                            {"i": index}))


def test_an_untouched_log_verifies(signed: Audit, tmp_path: Path) -> None:
    report = _verify(signed, tmp_path)
    assert report.ok, report.findings
    assert (report.entries, report.checkpoints, report.tree_size) == (SIZE, 3, SIZE)
    assert report.proofs == 2  # consistency 10 -> 25 -> 40
    assert report.summary().startswith("OK: 40 entries")


def test_an_edited_entry_is_named(signed: Audit, database: Database, tmp_path: Path) -> None:
    _sql(database, f"UPDATE audit_leaves SET entry = {EDIT} WHERE idx IN (17, 31)")
    report = _verify(signed, tmp_path)
    assert _first_bad(report) == 17
    assert _record_id(database, 17) in report.summary()


def test_an_edited_entry_with_its_hash_rewritten_is_pinned_to_its_pair(
        signed: Audit, database: Database, tmp_path: Path) -> None:
    """The stored leaf hash rewritten to match: only the signed root still disagrees.
    The walk down the authenticated tree stops at the leaf pair: the two leaves are
    symmetrical to anyone holding only the root, so the report names both."""
    _sql(database, f"UPDATE audit_leaves SET entry = {EDIT} WHERE idx = 23")
    with database.session(readonly=True) as s:
        entry = s.scalar(text("SELECT entry FROM audit_leaves WHERE idx = 23"))
    _sql(database, "UPDATE audit_nodes SET hash = :h WHERE level = 0 AND idx = 23",
         h=leaf_hash(str(entry).encode()))
    report = _verify(signed, tmp_path)
    assert _first_bad(report) == 22
    assert any("one of #22 to #23" in f.message for f in report.findings)


def test_a_deleted_entry_is_named(signed: Audit, database: Database, tmp_path: Path) -> None:
    _sql(database, "DELETE FROM audit_leaves WHERE idx = 17")
    report = _verify(signed, tmp_path)
    assert _first_bad(report) == 17
    assert any("#17 is missing" in f.message for f in report.findings)


def test_a_deleted_entry_with_the_rest_renumbered_is_named(
        signed: Audit, database: Database, tmp_path: Path) -> None:
    _sql(database, "DELETE FROM audit_leaves WHERE idx = 17",
         "UPDATE audit_leaves SET idx = idx - 1 WHERE idx > 17")
    assert _first_bad(_verify(signed, tmp_path)) == 17


def test_reordered_entries_are_named(signed: Audit, database: Database, tmp_path: Path) -> None:
    _sql(database, "UPDATE audit_leaves SET idx = -1 WHERE idx = 11",
         "UPDATE audit_leaves SET idx = 11 WHERE idx = 23",
         "UPDATE audit_leaves SET idx = 23 WHERE idx = -1")
    assert _first_bad(_verify(signed, tmp_path)) == 11


def test_an_inserted_entry_is_named(signed: Audit, database: Database, tmp_path: Path) -> None:
    forged = record(999)
    # Shift the tail up by one (in two steps: primary keys must stay unique throughout).
    _sql(database, "UPDATE audit_leaves SET idx = -idx - 1000 WHERE idx >= 17",
         "UPDATE audit_leaves SET idx = -idx - 999 WHERE idx < 0")
    with database.session() as s:
        s.execute(text("INSERT INTO audit_leaves (idx, record_id, created_at, logged_at, entry) "
                       "SELECT 17, :rid, created_at, logged_at, :entry FROM audit_leaves "
                       "WHERE idx = 16"),
                  {"rid": forged.id, "entry": record_entry(forged, SECRET).decode()})
    report = _verify(signed, tmp_path)
    assert _first_bad(report) == 17
    assert forged.id in report.summary()


def test_a_checkpoint_signed_by_another_key_is_rejected(
        signed: Audit, database: Database, tmp_path: Path) -> None:
    impostor = NoteSigner(ORIGIN, bytes(32))
    note = impostor.sign(Checkpoint(ORIGIN, SIZE, b"\x03" * 32).body())
    _sql(database, "INSERT INTO audit_checkpoints (size, root, note, created_at) "
                   "SELECT :size, :root, :note, created_at FROM audit_checkpoints "
                   "WHERE size = 40", size=SIZE, root=b"\x03" * 32, note=note)
    report = _verify(signed, tmp_path)
    assert not report.ok
    assert [f.code for f in report.findings] == ["checkpoint_rejected"]
    assert "not signed by key" in report.findings[0].message


def test_a_validly_signed_but_inconsistent_checkpoint_is_rejected(
        signed: Audit, database: Database, tmp_path: Path) -> None:
    """The operator's own key, signing a tree that does not extend the published one
    (say, to hide entry #5): the verifier reports the fork and blames no entry."""
    forked = [record(n) for n in range(30)]
    from synthguard.audit.merkle import MemoryTree

    tree = MemoryTree()
    for r in forked:
        tree.append(leaf_hash(record_entry(r, SECRET)))
    note = SIGNER.sign(Checkpoint(ORIGIN, 30, tree.root()).body())
    _sql(database, "INSERT INTO audit_checkpoints (size, root, note, created_at) "
                   "SELECT 30, :root, :note, created_at FROM audit_checkpoints WHERE size = 40",
         root=tree.root(), note=note)
    report = _verify(signed, tmp_path)
    assert not report.ok
    assert {f.code for f in report.findings} == {"checkpoint_inconsistent", "checkpoint_fork"}
    assert report.first_bad is None  # the entries are what size 40 signed: none is blamed


def test_the_publisher_will_not_sign_over_a_forged_checkpoint(
        signed: Audit, database: Database) -> None:
    note = SIGNER.sign(Checkpoint(ORIGIN, SIZE, b"\x04" * 32).body())
    _sql(database, "INSERT INTO audit_checkpoints (size, root, note, created_at) "
                   "SELECT 40, :root, :note, created_at FROM audit_checkpoints WHERE size = 40",
         root=b"\x04" * 32, note=note)
    signed.log.append([record(100)])
    with pytest.raises(AuditAlarm, match="no longer has the signed root"):
        signed.checkpoints.publish()


def test_a_range_export_proves_each_entry_and_names_an_edited_one(
        signed: Audit, database: Database, tmp_path: Path) -> None:
    first_logged = next(signed.log.leaves(10, 11)).logged_at
    range_ = {"since": first_logged, "until": first_logged + timedelta(days=1)}
    report = _verify(signed, tmp_path, **range_)
    assert report.ok, report.findings
    assert report.kind == "range" and report.entries == 30 and report.proofs >= 30
    _sql(database, f"UPDATE audit_leaves SET entry = {EDIT} WHERE idx = 26")
    assert _first_bad(_verify(signed, tmp_path, **range_)) == 26


def test_purged_payloads_still_verify(signed: Audit, tmp_path: Path) -> None:
    later = next(signed.log.leaves(0, 1)).logged_at + timedelta(days=181)
    assert signed.log.purge(now=later).payloads == SIZE
    report = _verify(signed, tmp_path)
    assert report.ok, report.findings
    assert report.purged == SIZE
