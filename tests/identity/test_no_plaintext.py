"""Personal data never lands in the clear: after every flow (sign-up, mobile, ID number
with a match and a mismatch, organisation, network identity whose answer carries extra
identity data, consents by statement and by phone, checks, revocations, bad input,
provider failure, the demo SMS sender) the SQLite file with its WAL, every row of every
table, the server log (JSON lines, with all `extra` fields, uvicorn's too) and every
HTTP answer are searched for each identity number, phone number and real name used."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from synthguard.config import Config
from synthguard.gateway.logs import JsonFormatter
from synthguard.identity.services import IdentityServices
from synthguard.identity.settings import IdentitySettings
from synthguard.store import Database
from synthguard.store.all_models import Base
from tests.accounts.conftest import SECRET, FakeClock
from tests.gateway.conftest import LiveServer
from tests.identity.fake_vendor import FakeVendor, FakeVendorServer
from tests.identity.helpers import (
    DEMO_USCC,
    MOBILE,
    NAME,
    OTHER_MOBILE,
    STANDARD_ID,
    bearer,
    id_number,
    make_app,
    settings_for,
)

PERMIT = id_number("81000019940823001")
MISTYPED_ID = "110105194912310021"
SUBJECT_MOBILE = "13912345678"
UNUSED_MOBILE = "18611112222"  # only ever sent in a refused request
SECRETS = [STANDARD_ID, PERMIT, MISTYPED_ID, MOBILE, OTHER_MOBILE, SUBJECT_MOBILE,
           UNUSED_MOBILE, NAME, "张丽"]


@pytest.fixture
def server_log() -> Iterator[io.StringIO]:
    """The server log as deployed: JSON lines with every extra field, DEBUG and up."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    loggers = [logging.getLogger(n) for n in ("synthguard", "uvicorn", "uvicorn.error",
                                               "uvicorn.access", "httpx", "")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    yield stream
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)


def _forms(value: str) -> list[bytes]:
    """The ways a value could be written: UTF-8, JSON with \\u escapes, UTF-16."""
    return [value.encode(), json.dumps(value).strip('"').encode(), value.encode("utf-16-le")]


def _leaks(blob: bytes) -> list[str]:
    return [v for v in SECRETS if any(form in blob for form in _forms(v))]


def _drive(http: httpx.Client, vendor: FakeVendor, clock: FakeClock,
           answers: list[str]) -> None:
    def call(method: str, path: str, key: str | None = None, **kwargs: object) -> httpx.Response:
        response = http.request(method, path, headers=bearer(key) if key else None,
                                **kwargs)  # type: ignore[arg-type]
        answers.append(response.text)
        assert response.status_code != 500, response.text  # 503: the provider failing
        return response

    def account(name: str) -> str:
        key: str = call("POST", "/v1/identity/signup", json={"name": name}).json()["api_key"]
        return key

    vendor.persons[STANDARD_ID] = (NAME, MOBILE)
    vendor.organisations[DEMO_USCC] = "演示科技"
    vendor.tickets["ticket-9"] = "opaque-subject-9"
    alice, bob, carol = account("Alice"), account("Bob"), account("Carol")
    start = call("POST", "/v1/identity/mobile/start", alice, json={"mobile": MOBILE}).json()
    call("POST", "/v1/identity/mobile/confirm", alice,
         json={"challenge_id": start["challenge_id"], "code": vendor.last_code(MOBILE)})
    call("POST", "/v1/identity/id-number", alice, json={"name": NAME, "id_number": MISTYPED_ID})
    call("POST", "/v1/identity/id-number", alice, json={"name": NAME, "id_number": PERMIT,
                                                        "mobile": MOBILE})  # no record
    call("POST", "/v1/identity/id-number", alice, json={"name": "张丽", "id_number": STANDARD_ID,
                                                        "mobile": MOBILE})  # mismatch
    call("POST", "/v1/identity/id-number", alice, json={"name": NAME, "id_number": STANDARD_ID})
    call("POST", "/v1/identity/id-number", bob, json={"name": NAME, "id_number": STANDARD_ID,
                                                      "mobile": OTHER_MOBILE})  # in use
    call("POST", "/v1/identity/id-number", bob, json={"name": NAME, "id_number": 12345})
    call("POST", "/v1/identity/mobile/start", bob, json={"mobile": MOBILE})  # in use
    call("POST", "/v1/identity/mobile/start", bob, json={"mobile": "14012345678"})
    vendor.fail_with = 500
    call("POST", "/v1/identity/mobile/start", bob, json={"mobile": UNUSED_MOBILE})
    vendor.fail_with = None
    call("POST", "/v1/identity/organisation", bob, json={"uscc": DEMO_USCC, "name": "演示科技"})
    call("POST", "/v1/identity/network-identity", carol, json={"ticket": "ticket-9"})
    call("POST", "/v1/identity/check-number", json={"kind": "id_number", "value": PERMIT})
    until = (clock.now + timedelta(days=5)).isoformat()
    consent = call("POST", "/v1/consents", alice, json={
        "subject_name": "张丽", "scope": "both", "purpose": "宣传片",
        "allowed_outputs": ["video"], "valid_until": until,
        "subject_mobile": SUBJECT_MOBILE}).json()
    cid = consent["consent"]["consent_id"]
    call("POST", f"/v1/consents/{cid}/confirm", alice, json={
        "challenge_id": consent["challenge"]["challenge_id"],
        "code": vendor.last_code(SUBJECT_MOBILE)})
    call("POST", f"/v1/consents/{cid}/check", alice, json={"kind": "voice", "output": "video"})
    clock.advance(seconds=61)
    withdraw = call("POST", f"/v1/consents/{cid}/subject-revocation",
                    json={"subject_mobile": SUBJECT_MOBILE}).json()
    call("POST", f"/v1/consents/{cid}/subject-revocation/confirm", json={
        "challenge_id": withdraw["challenge_id"], "code": vendor.last_code(SUBJECT_MOBILE)})
    call("POST", f"/v1/consents/{cid}/revoke", alice, json={"reason": "done"})
    call("GET", "/v1/consents", alice)
    call("GET", "/v1/identity/me", alice)


def test_no_plaintext_identity_data_anywhere(tmp_path: Path, server_log: io.StringIO) -> None:
    db_path = tmp_path / "identity.db"
    db = Database(f"sqlite:///{db_path}")
    db.migrate()
    config = Config(secret=SECRET, producer_code="", demo=True)
    answers: list[str] = []
    with FakeVendorServer() as vendor:
        clock = FakeClock(datetime.now(UTC))
        services = IdentityServices.build(config, db, settings_for(vendor), clock=clock)
        with LiveServer(make_app(services)) as server, \
                httpx.Client(base_url=server.url, timeout=30) as http:
            _drive(http, vendor, clock, answers)
        # The development sender (demo mode) writes codes to the log, phones masked.
        demo = IdentityServices.build(config, db, IdentitySettings())
        user = demo.accounts.create_user(demo.accounts.create_org("Demo"), "Dana")
        demo.verification.start_mobile(user, "13700001111")
    assert '"event": "demo_sms"' in server_log.getvalue()
    assert "137****1111" in server_log.getvalue()
    SECRETS.append("13700001111")

    rows: list[str] = []
    with db.session(readonly=True) as s:
        for table in Base.metadata.sorted_tables:
            rows += [repr(tuple(row)) for row in s.execute(select(table))]
        assert rows, "the flows wrote nothing?"
    db.dispose()
    files = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith(
        "identity.db")}
    assert "identity.db" in files
    found = {name: _leaks(blob) for name, blob in files.items()}
    found["rows"] = _leaks("\n".join(rows).encode())
    found["log"] = _leaks(server_log.getvalue().encode())
    found["answers"] = _leaks("\n".join(answers).encode())
    assert all(not leaked for leaked in found.values()), found
    # The scan can see a leak: what the vendors received does hold the numbers.
    assert set(_leaks(repr(vendor.requests).encode())) >= {STANDARD_ID, MOBILE, SUBJECT_MOBILE}
    assert [sms.purpose for sms in vendor.outbox][-2:] == ["consent_confirm", "consent_revoke"]
    assert len(server_log.getvalue().splitlines()) > 20
