"""Checkpoint publishing: signed notes over the stored tree, on demand and at an
interval, and the refusal (with an alarm) to sign anything the stored log no longer
backs: the log never signs two inconsistent checkpoints."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from synthguard.accounts.records import Records
from synthguard.audit import merkle
from synthguard.audit.checkpoint import Checkpoint, open_checkpoint
from synthguard.audit.errors import AuditAlarm
from synthguard.audit.models import AuditCheckpoint
from synthguard.audit.note import NoteSigner
from synthguard.audit.service import Audit, AuditSettings
from synthguard.config import Config
from synthguard.store import Database
from tests.audit.conftest import ORIGIN, SECRET, SIGNER, record

EDIT = "replace(entry, '/v1/chat/completions', '/v1/images/generations')"


def _count(database: Database) -> int:
    with database.session(readonly=True) as s:
        return s.scalar(select(func.count()).select_from(AuditCheckpoint)) or 0


def _sql(database: Database, statement: str, **params: object) -> None:
    with database.session() as s:
        s.execute(text(statement), params)


def test_publish_signs_the_stored_tree(audit: Audit) -> None:
    empty = audit.checkpoints.publish()
    assert (empty.size, empty.root) == (0, merkle.EMPTY_ROOT)
    audit.log.append([record(n) for n in range(9)])
    first = audit.checkpoints.publish()
    assert open_checkpoint(first.note, SIGNER.verifier, ORIGIN) == Checkpoint(
        ORIGIN, 9, audit.log.root(9))
    assert audit.checkpoints.publish() == first  # nothing new: nothing new signed
    audit.log.append([record(n) for n in range(9, 20)])
    second = audit.checkpoints.publish()
    assert second.size == 20 and audit.checkpoints.latest() == second
    assert [c.size for c in audit.checkpoints.history()] == [0, 9, 20]
    assert merkle.verify_consistency(9, 20, first.root, second.root,
                                     audit.log.consistency_proof(9, 20))


def test_purged_payloads_do_not_stop_publishing(audit: Audit) -> None:
    audit.log.append([record(n) for n in range(5)])
    later = next(audit.log.leaves(0, 1)).logged_at + timedelta(days=200)
    assert audit.log.purge(now=later).payloads == 5
    assert audit.checkpoints.publish().size == 5


@pytest.mark.parametrize("tamper", [
    "edit_unsigned_entry", "edit_signed_node", "truncate", "delete_unsigned_leaf",
    "rewrite_last_checkpoint", "forge_last_checkpoint", "edit_unsigned_node"])
def test_publish_refuses_and_alarms_when_the_store_disagrees(
        audit: Audit, database: Database, caplog: pytest.LogCaptureFixture, tamper: str) -> None:
    audit.log.append([record(n) for n in range(12)])
    audit.checkpoints.publish()
    audit.log.append([record(n) for n in range(12, 20)])
    if tamper == "edit_unsigned_entry":
        _sql(database, f"UPDATE audit_leaves SET entry = {EDIT} WHERE idx = 15")
    elif tamper == "edit_signed_node":  # one the root of the signed tree is folded from
        _sql(database, "UPDATE audit_nodes SET hash = :h WHERE level = 3 AND idx = 0",
             h=b"\x00" * 32)
    elif tamper == "edit_unsigned_node":
        _sql(database, "UPDATE audit_nodes SET hash = :h WHERE level = 1 AND idx = 7",
             h=b"\x00" * 32)
    elif tamper == "truncate":
        _sql(database, "UPDATE audit_head SET size = 10")
    elif tamper == "delete_unsigned_leaf":
        _sql(database, "DELETE FROM audit_leaves WHERE idx = 13")
    elif tamper == "rewrite_last_checkpoint":
        _sql(database, "UPDATE audit_checkpoints SET root = :h WHERE size = 12", h=b"\x01" * 32)
    elif tamper == "forge_last_checkpoint":
        forged = NoteSigner(ORIGIN, bytes(32)).sign(Checkpoint(ORIGIN, 12, b"\x02" * 32).body())
        _sql(database, "UPDATE audit_checkpoints SET note = :n, root = :h WHERE size = 12",
             n=forged, h=b"\x02" * 32)
    before = _count(database)
    with caplog.at_level(logging.CRITICAL, logger="synthguard.audit"), \
            pytest.raises(AuditAlarm, match="refusing to sign"):
        audit.checkpoints.publish()
    assert _count(database) == before  # nothing signed
    assert [r.levelname for r in caplog.records if "audit alarm" in r.getMessage()] == [
        "CRITICAL"]


def test_an_edit_to_a_signed_payload_is_left_to_the_verifier(
        audit: Audit, database: Database) -> None:
    """Publishing checks only what is new (O(n - m)); a rewritten old payload does not
    change the stored tree, so signing goes on and the full verifier reports it."""
    audit.log.append([record(n) for n in range(8)])
    audit.checkpoints.publish()
    _sql(database, f"UPDATE audit_leaves SET entry = {EDIT} WHERE idx = 3")
    audit.log.append([record(8)])
    assert audit.checkpoints.publish().size == 9


def test_the_background_task_ingests_and_publishes_at_an_interval(
        database: Database, records: Records) -> None:
    audit = Audit(database, Config(secret=SECRET, producer_code=""),
                  AuditSettings(origin=ORIGIN, signer=SIGNER, checkpoint_interval_s=0.02))
    for n in range(5):
        records.write(record(n))
    late = [record(5)]

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(audit.run_background(records, stop))
        for _ in range(500):  # until two rounds have published, bounded
            latest = audit.checkpoints.latest()
            if latest is not None and latest.size == 6:
                break
            if latest is not None and latest.size == 5 and late:
                records.write(late.pop())
            await asyncio.sleep(0.01)
        stop.set()
        await task

    asyncio.run(main())
    sizes = [c.size for c in audit.checkpoints.history()]
    assert sizes[-1] == 6 and 5 in sizes
