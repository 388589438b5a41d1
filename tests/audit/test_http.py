"""The audit router mounted on a small FastAPI app: checkpoint, proofs by record id and
ProduceID, consistency proofs, exports; bad input gets 4xx JSON errors. One test runs
a real uvicorn server and verifies the live log over HTTP with the public key only."""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import text
from starlette.testclient import TestClient

from synthguard.audit import merkle
from synthguard.audit.checkpoint import open_checkpoint
from synthguard.audit.http import router
from synthguard.audit.remote import verify_remote
from synthguard.audit.service import Audit
from synthguard.audit.verify import verify_archive
from synthguard.store import Database
from tests.api_errors import api_error
from tests.audit.conftest import ORIGIN, SIGNER, record


def _app(audit: Audit) -> FastAPI:
    app = FastAPI()
    app.include_router(router, prefix="/audit")
    app.state.audit = audit
    return app


@pytest.fixture
def client(audit: Audit) -> Iterator[TestClient]:
    with TestClient(_app(audit)) as client:
        yield client


def _error(response: httpx.Response, status: int) -> str:
    return str(api_error(response, status)["code"])


def test_checkpoint_is_served_as_a_signed_note(audit: Audit, client: TestClient) -> None:
    assert _error(client.get("/audit/checkpoint"), 404) == "no_checkpoint"
    audit.log.append([record(n) for n in range(5)])
    audit.checkpoints.publish()
    response = client.get("/audit/checkpoint")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/")
    checkpoint = open_checkpoint(response.text, SIGNER.verifier, ORIGIN)
    assert (checkpoint.size, checkpoint.root) == (5, audit.log.root(5))


def test_inclusion_proof_by_record_id_and_by_produce_id(audit: Audit, client: TestClient) -> None:
    recs = [record(n) for n in range(11)]
    audit.log.append(recs)
    audit.checkpoints.publish()
    by_id = client.get("/audit/proof/inclusion", params={"record_id": recs[6].id}).json()
    by_produce_id = client.get("/audit/proof/inclusion",
                               params={"produce_id": recs[6].id.upper()}).json()
    assert by_id == by_produce_id
    assert (by_id["index"], by_id["tree_size"]) == (6, 11)
    leaf = bytes.fromhex(by_id["leaf_hash"])
    assert merkle.leaf_hash(by_id["entry"].encode()) == leaf
    checkpoint = open_checkpoint(by_id["checkpoint"], SIGNER.verifier, ORIGIN)
    path = [bytes.fromhex(h) for h in by_id["path"]]
    assert merkle.verify_inclusion(6, 11, leaf, path, checkpoint.root)
    older = client.get("/audit/proof/inclusion",
                       params={"record_id": recs[2].id, "size": 4}).json()
    assert older["tree_size"] == 4 and older["checkpoint"] is None
    assert merkle.verify_inclusion(2, 4, bytes.fromhex(older["leaf_hash"]),
                                   [bytes.fromhex(h) for h in older["path"]], audit.log.root(4))


def test_inclusion_proof_errors(audit: Audit, client: TestClient) -> None:
    audit.log.append([record(0)])
    audit.checkpoints.publish()
    pending = record(1)
    audit.log.append([pending])
    url = "/audit/proof/inclusion"
    assert _error(client.get(url), 400) == "bad_request"
    assert _error(client.get(url, params={"record_id": pending.id,
                                          "produce_id": pending.id}), 400) == "bad_request"
    assert _error(client.get(url, params={"record_id": "not-an-id"}), 400) == "bad_request"
    assert _error(client.get(url, params={"record_id": "f" * 32}), 404) == "unknown_record"
    assert _error(client.get(url, params={"record_id": pending.id}), 409) == \
        "not_yet_checkpointed"
    assert _error(client.get(url, params={"record_id": pending.id, "size": "x"}), 400) == \
        "bad_request"
    assert _error(client.get(url, params={"record_id": pending.id, "size": "9"}), 400) == \
        "bad_request"


def test_consistency_proofs(audit: Audit, client: TestClient) -> None:
    assert _error(client.get("/audit/proof/consistency", params={"first": 1}), 404) == \
        "no_checkpoint"
    audit.log.append([record(n) for n in range(7)])
    small = audit.checkpoints.publish()
    audit.log.append([record(n) for n in range(7, 19)])
    large = audit.checkpoints.publish()
    body = client.get("/audit/proof/consistency", params={"first": 7}).json()
    assert (body["first"], body["second"]) == (7, 19)
    assert merkle.verify_consistency(7, 19, small.root, large.root,
                                     [bytes.fromhex(h) for h in body["path"]])
    for params in ({"first": 0}, {"first": 20}, {"first": "seven"}, {"first": 8, "second": 3}):
        assert _error(client.get("/audit/proof/consistency", params=params), 400) == "bad_request"
    assert client.get("/audit/proof/consistency").status_code == 422  # FastAPI: missing param


def test_export_over_http_verifies(audit: Audit, client: TestClient, tmp_path: Path) -> None:
    assert _error(client.get("/audit/export"), 404) == "no_checkpoint"
    audit.log.append([record(n) for n in range(9)])
    audit.checkpoints.publish()
    response = client.get("/audit/export")
    assert response.headers["content-type"] == "application/gzip"
    archive = tmp_path / "export.tar.gz"
    archive.write_bytes(response.content)
    assert verify_archive(archive, SIGNER.verifier).ok
    since = next(audit.log.leaves(0, 1)).logged_at.isoformat()
    ranged = client.get("/audit/export", params={"since": since})
    archive.write_bytes(ranged.content)
    report = verify_archive(archive, SIGNER.verifier)
    assert report.ok and report.kind == "range" and report.entries == 9
    for params in ({"since": "yesterday"}, {"since": "2026-01-01T00:00:00"},
                   {"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}):
        assert _error(client.get("/audit/export", params=params), 400) == "bad_request"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live_url(audit: Audit) -> Iterator[str]:
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(_app(audit), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(500):  # bounded wait for the socket to listen
        if server.started:
            break
        time.sleep(0.01)
    assert server.started
    yield f"http://127.0.0.1:{port}/audit"
    server.should_exit = True
    thread.join()


def test_a_live_log_verifies_over_http_with_the_public_key_alone(
        audit: Audit, database: Database, live_url: str) -> None:
    audit.log.append([record(n) for n in range(13)])
    audit.checkpoints.publish()
    report = verify_remote(live_url, SIGNER.verifier)
    assert report.ok, report.findings
    assert report.entries == 13
    with database.session() as s:
        s.execute(text("UPDATE audit_leaves SET entry = replace(entry, 'chat', 'chit') "
                       "WHERE idx = 8"))
    tampered = verify_remote(live_url, SIGNER.verifier)
    assert tampered.first_bad is not None and tampered.first_bad.index == 8
    note = httpx.get(f"{live_url}/checkpoint").text
    assert note.split("\n")[2] == base64.b64encode(audit.log.root(13)).decode()
