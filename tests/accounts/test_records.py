"""Request records: written durably, read back whole, ids time-ordered, digests only."""

from __future__ import annotations

import hashlib
import threading
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from synthguard.accounts import AccountError, Records, RequestRecord, canonical_digest
from synthguard.accounts.records import new_record_id
from synthguard.store import Database


def make_record(records: Records, **overrides: object) -> RequestRecord:
    values: dict[str, object] = dict(
        id=records.new_id(), created_at=datetime(2026, 3, 1, 8, 0, 0, 123456, tzinfo=UTC),
        org_id="org_a", user_id="usr_a", key_id="key_a", endpoint="/v1/chat/completions",
        model="synthguard-demo", status="ok",
        input_digest=canonical_digest([{"role": "user", "content": "你好"}]),
        output_digest=canonical_digest("生成的回答"),
        input_review={"allowed": True, "rule_ids": [], "category": None},
        output_review={"allowed": True, "rule_ids": [], "windows": 3},
        labels={"notice": "本内容由人工智能生成", "aigc": {"Label": "1", "ProduceID": "x"}},
        enforcement=None, error_code=None, overhead_ms=1.25)
    values.update(overrides)
    return RequestRecord(**values)  # type: ignore[arg-type]


def test_written_records_read_back_whole(database: Database) -> None:
    records = Records(database)
    record = make_record(records)
    records.write(record)
    assert records.get(record.id) == record
    assert records.get(records.new_id()) is None


def test_blocked_and_anonymous_requests_are_recorded_too(database: Database) -> None:
    records = Records(database)
    blocked = make_record(records, status="blocked_input", output_digest=None,
                          output_review=None, labels=None, error_code="content_blocked",
                          enforcement={"state": "suspended", "rule": "consecutive"},
                          input_review={"allowed": False, "rule_ids": ["R-1"],
                                        "category": "violence"})
    refused = make_record(records, status="refused", org_id=None, user_id=None, key_id=None,
                          model=None, input_digest=None, output_digest=None,
                          input_review=None, output_review=None, labels=None,
                          error_code="invalid_api_key", overhead_ms=None)
    records.write(blocked)
    records.write(refused)
    assert [r for _, r in records.after()] == [blocked, refused]


def test_a_written_record_is_visible_at_once_elsewhere(database: Database) -> None:
    records = Records(database)
    record = make_record(records)
    records.write(record)
    other = Database(database.url.render_as_string(hide_password=False))
    try:
        assert Records(other).get(record.id) == record
        with other.engine.connect() as conn:
            count = conn.execute(text("SELECT count(*) FROM request_records WHERE id = :id"),
                                 {"id": record.id}).scalar()
        assert count == 1
    finally:
        other.dispose()


def test_after_pages_in_sequence_order(database: Database) -> None:
    records = Records(database)
    written = [make_record(records) for _ in range(5)]
    for record in written:
        records.write(record)
    first = records.after(0, limit=2)
    rest = records.after(first[-1][0])
    assert [r for _, r in first + rest] == written
    seqs = [s for s, _ in first + rest]
    assert seqs == sorted(seqs) and len(set(seqs)) == 5


def test_concurrent_writes_all_land(database: Database) -> None:
    records = Records(database)
    errors: list[BaseException] = []

    def write_some() -> None:
        try:
            for _ in range(10):
                records.write(make_record(records))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write_some) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(records.after(0, limit=100)) == 40


def test_duplicate_ids_are_refused(database: Database) -> None:
    records = Records(database)
    record = make_record(records)
    records.write(record)
    with pytest.raises(IntegrityError):
        records.write(record)


@pytest.mark.parametrize("overrides, message", [
    ({"input_digest": "帮我写一封邮件"}, "input_digest must be a SHA-256 hex digest"),
    ({"output_digest": "A" * 64}, "output_digest must be a SHA-256 hex digest"),
    ({"status": "allowed"}, "status 'allowed' is not one of"),
    ({"id": "not-an-id"}, "record id 'not-an-id'"),
    ({"created_at": datetime(2026, 3, 1)}, "timezone-aware"),
])
def test_records_refuse_what_does_not_belong(database: Database, overrides: dict[str, object],
                                             message: str) -> None:
    records = Records(database)
    with pytest.raises(AccountError, match=message):
        records.write(make_record(records, **overrides))
    assert records.after() == []


def test_timestamps_come_back_in_utc(database: Database) -> None:
    records = Records(database)
    local = datetime(2026, 3, 1, 16, 0, tzinfo=timezone(timedelta(hours=8)))
    record = make_record(records, created_at=local)
    records.write(record)
    back = records.get(record.id)
    assert back is not None and back.created_at == local
    assert back.created_at.utcoffset() == timedelta(0)


def test_ids_are_uuid7_shaped_unique_and_increasing() -> None:
    before = time.time_ns() // 1_000_000
    ids = [new_record_id() for _ in range(20_000)]
    after = time.time_ns() // 1_000_000
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    for value in (ids[0], ids[-1]):
        assert len(value) == 32 and int(value, 16) >= 0 and value == value.lower()
        assert value[12] == "7" and value[16] in "89ab"  # version 7, RFC variant
    assert before <= int(ids[0][:12], 16) <= int(ids[-1][:12], 16) <= after + 20


def test_ids_from_many_threads_are_unique() -> None:
    out: list[list[str]] = [[] for _ in range(4)]

    def make(i: int) -> None:
        out[i].extend(new_record_id() for _ in range(5000))

    threads = [threading.Thread(target=make, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({v for chunk in out for v in chunk}) == 20_000
    assert all(chunk == sorted(chunk) for chunk in out)


def test_canonical_digest() -> None:
    assert canonical_digest("abc") == hashlib.sha256(b"abc").hexdigest()
    assert canonical_digest(b"abc") == canonical_digest("abc")
    assert canonical_digest({"b": 1, "a": "生成"}) == canonical_digest({"a": "生成", "b": 1})
    assert canonical_digest({"a": "生成"}) == hashlib.sha256(
        '{"a":"生成"}'.encode()).hexdigest()
