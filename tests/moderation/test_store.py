"""The persisted library workflow and review queue, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData

from synthguard.moderation import store_models
from synthguard.moderation.library import STATUSES, LibraryError, WorkflowError
from synthguard.moderation.library_files import starter
from synthguard.moderation.store import ModerationStore, QueueError
from synthguard.store import Database
from synthguard.store.models import Base
from tests.moderation.conftest import engine_of, entry

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def _store(database: Database, **kw: object) -> ModerationStore:
    return ModerationStore(database, clock=Clock(), **kw)  # type: ignore[arg-type]


def test_migration_creates_exactly_the_moderation_tables(database_url: str) -> None:
    database = Database(database_url)
    database.migrate()
    ours = MetaData()
    for table in Base.metadata.sorted_tables:
        if table.name.startswith("moderation_"):
            table.to_metadata(ours)
    with database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                ours)
    # Only the other services' tables may differ (they are not in `ours`).
    assert [d for d in diff if "moderation_" in repr(d)] == []
    assert len(ours.tables) == 7
    database.dispose()


def test_table_module_repeats_the_library_statuses_and_loads_no_engine() -> None:
    assert store_models.ENTRY_STATUSES == STATUSES
    code = ("import sys, synthguard.moderation.store_models; "
            "print(any(m.startswith(('numpy', 'ahocorasick_rs', 're2')) for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_entries_change_only_through_the_workflow_and_every_step_is_recorded(
        database: Database) -> None:
    store = _store(database)
    imported = entry("代开发票", id="k1")  # a file says active and reviewed: not trusted
    assert store.add([imported, entry("刷好评", id="k2", risk_id="A.3.2")],
                     actor="importer") == 2
    assert {e.status for e in store.entries()} == {"candidate"}
    with pytest.raises(WorkflowError, match="author cannot review"):
        store.move("k1", "reviewed", actor="alice")
    store.move("k1", "reviewed", actor="bob")
    store.move("k1", "active", actor="carol", note="weekly release")
    with pytest.raises(WorkflowError, match="already in the library"):
        store.add([entry("代开发票", id="k1")], actor="importer")
    release = store.cut_release("2026.22", actor="carol", on=date(2026, 6, 1))
    assert [e.id for e in release.entries] == ["k1"]
    store.revise("k1", actor="dave", pattern="代开增值税发票")
    current = {e.id: e for e in store.entries()}["k1"]
    assert (current.version, current.status, current.pattern) == (2, "candidate", "代开增值税发票")
    # The frozen release still rebuilds with version 1 and the same hash.
    again = store.release("2026.22")
    assert again.sha256 == release.sha256 and again.entries[0].pattern == "代开发票"
    with pytest.raises(WorkflowError, match="frozen"):
        store.cut_release("2026.22", actor="carol")
    steps = [(c.entry_id, c.version, c.from_status, c.to_status, c.actor)
             for c in store.history("k1")]
    assert steps == [("k1", 1, None, "candidate", "importer"),
                     ("k1", 1, "candidate", "reviewed", "bob"),
                     ("k1", 1, "reviewed", "active", "carol"),
                     ("k1", 2, "active", "candidate", "dave")]
    assert all(c.at.tzinfo is not None for c in store.history())
    with pytest.raises(WorkflowError, match="no entry"):
        store.move("nope", "reviewed", actor="bob")
    with pytest.raises(LibraryError):
        store.revise("k2", actor="dave", pattern="x")


def test_starter_library_goes_through_the_store(database: Database) -> None:
    store = _store(database)
    store.add(starter(), actor="importer")
    for e in store.entries():
        store.move(e.id, "reviewed", actor="reviewer-1")
        store.move(e.id, "active", actor="lead")
    release = store.cut_release("starter", actor="lead", on=date(2026, 6, 1))
    assert len(release.entries) == len(starter())
    assert store.release("starter").sha256 == release.sha256


def test_queue_claim_comment_escalate_decide_and_violations(database: Database) -> None:
    fed: list[str] = []
    store = _store(database, enforce=fed.append)
    engine = engine_of(entry("傻帽", action="review"))
    review = engine.review("你个傻!帽", stage="input", user_id="u1")
    assert review.decision == "review"
    item_id = store.enqueue(review, "你个傻!帽", record_id="r-1")
    store.claim(item_id, actor="mod-a")
    with pytest.raises(QueueError, match="not open"):
        store.claim(item_id, actor="mod-b")
    with pytest.raises(QueueError, match="not claimed by mod-b"):
        store.decide(item_id, "block", actor="mod-b")
    store.comment(item_id, actor="mod-a", note="insult? ask senior")
    escalated = store.escalate(item_id, actor="mod-a", note="unsure")
    assert (escalated.state, escalated.level, escalated.claimed_by) == ("escalated", 1, None)
    store.claim(item_id, actor="senior")
    decided = store.decide(item_id, "block", actor="senior", note="insult")
    assert (decided.state, decided.decision) == ("decided", "block")
    with pytest.raises(QueueError):
        store.decide(item_id, "allow", actor="senior")
    with pytest.raises(QueueError, match="allow or block"):
        store.decide(item_id, "maybe", actor="senior")
    assert [(e.action, e.actor, e.decision) for e in store.events(item_id)] == [
        ("queued", "engine", None), ("claim", "mod-a", None), ("comment", "mod-a", None),
        ("escalate", "mod-a", None), ("claim", "senior", None), ("decide", "senior", "block")]
    assert store.items(state="decided")[0].review["matches"][0]["entry_id"] == "e1"
    assert fed == ["u1"] and store.violations("u1") == 1


def test_automatic_blocks_count_and_feed_enforcement_for_inputs_only(
        database: Database) -> None:
    fed: list[str] = []
    store = _store(database, enforce=fed.append)
    engine = engine_of(entry("代开发票"))
    for _ in range(3):
        store.note_automatic(engine.review("代开发票", stage="input", user_id="u2"))
    store.note_automatic(engine.review("代开发票", stage="output", user_id="u2"))
    store.note_automatic(engine.review("你好", stage="input", user_id="u2"))  # allowed
    store.note_automatic(engine.review("代开发票", stage="input"))  # no user
    assert fed == ["u2"] * 3
    assert store.violations("u2") == 4
    assert store.violations("u2", within=timedelta(hours=24)) == 4
    assert store.violations("u3") == 0
