"""The audit log (issue 7) and the governance services (issue 10) inside the gateway app
that `create_app` builds: inclusion proofs over HTTP for a request's ProduceID, service
switches and policy acceptance before generation, refuted-rumor notices and blocks on
outputs, filings in `GET /v1/models`, and sign-up closed by the registrations switch.
Through a running gateway and the official openai client (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import openai
import pytest

from synthguard.audit import merkle
from synthguard.audit.checkpoint import open_checkpoint
from synthguard.audit.note import NoteVerifier
from synthguard.audit.service import Audit
from synthguard.config import BackendRoute
from synthguard.gateway.backends.demo import demo_words
from synthguard.governance.service import Governance
from synthguard.store import Database
from tests.gateway.conftest import MODEL, Gateway, make_config, run_gateway

USER = [{"role": "user", "content": "你好"}]
OTHER_MODEL = "synthguard-demo-2"
ORDER = {"reason": "regulator's order", "order_ref": "网信办〔2025〕12号", "actor": "ops"}


def _governance(gateway: Gateway) -> Governance:
    assert gateway.app is not None
    found = gateway.app.state.governance
    assert isinstance(found, Governance)
    return found


def _audit(gateway: Gateway) -> Audit:
    assert gateway.app is not None
    found = gateway.app.state.audit
    assert isinstance(found, Audit)
    return found


def _chat(client: openai.OpenAI, content: str, model: str = MODEL) -> Any:
    return client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": content}])


def _refused(gateway: Gateway, client: openai.OpenAI, model: str = MODEL
             ) -> openai.APIStatusError:
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model=model, messages=USER)  # type: ignore[arg-type]
    return caught.value


def test_inclusion_proof_for_a_produce_id_verifies_over_http(gateway: Gateway) -> None:
    _, key = gateway.key()
    client = gateway.client(key)
    produce_ids = []
    for i in range(5):
        reply = _chat(client, f"question {i}").parse()
        produce_ids.append(reply.model_extra["synthguard"]["label"]["ProduceID"])
    audit = _audit(gateway)
    # Appended inline, before each answer completed: the background round ran at start-up
    # and runs again only a minute later.
    indices = [audit.log.leaf_index(p) for p in produce_ids]
    assert indices == sorted(indices)
    audit.checkpoints.publish()  # on demand, as `synthguard audit checkpoint` does

    verifier = NoteVerifier.parse(audit.verifier_key)  # the public key alone
    with httpx.Client(base_url=gateway.url) as http:
        proof = http.get("/audit/proof/inclusion", params={"produce_id": produce_ids[2]})
        assert proof.status_code == 200, proof.text
        body = proof.json()
        checkpoint = open_checkpoint(body["checkpoint"], verifier)
        assert http.get("/audit/checkpoint").text == body["checkpoint"]
    leaf = merkle.leaf_hash(body["entry"].encode("utf-8"))
    assert leaf.hex() == body["leaf_hash"]
    assert body["record_id"] == produce_ids[2] and checkpoint.size == body["tree_size"]
    path = [bytes.fromhex(h) for h in body["path"]]
    assert merkle.verify_inclusion(body["index"], checkpoint.size, leaf, path, checkpoint.root)
    # The entry is the record: a changed one no longer proves against the signed root.
    forged = merkle.leaf_hash(body["entry"].replace('"ok"', '"blocked_input"').encode())
    assert forged != leaf
    assert not merkle.verify_inclusion(body["index"], checkpoint.size, forged, path,
                                       checkpoint.root)


def test_failed_audit_append_is_a_503_and_the_background_ingest_catches_up(
        sqlite_database: Database) -> None:
    config = make_config()
    audit = Audit(sqlite_database, config)

    async def unavailable(records: object, *, store: bool = False) -> list[object]:
        raise RuntimeError("audit log down")

    audit.log.append_async = unavailable  # type: ignore[assignment,method-assign]
    for gateway in run_gateway(sqlite_database, config, audit=audit):
        _, key = gateway.key()
        error = _refused(gateway, gateway.client(key))
        assert error.status_code == 503 and error.code == "store_unavailable"
        record_id = error.response.headers["X-SynthGuard-Record-Id"]
        assert gateway.record(record_id).status == "ok"  # committed, but not released
        audit.catch_up(gateway.records)
        assert audit.log.leaf_index(record_id) >= 0


def test_switches_suspend_generation_or_one_model_route(database: Database) -> None:
    config = make_config(backends={MODEL: BackendRoute(kind="demo"),
                                   OTHER_MODEL: BackendRoute(kind="demo")})
    for gateway in run_gateway(database, config):
        _, key = gateway.key()
        client = gateway.client(key)
        switches = _governance(gateway).switches

        switches.engage("generation", **ORDER)
        error = _refused(gateway, client)
        assert error.status_code == 503 and error.code == "service_suspended"
        assert ORDER["order_ref"] in error.message
        record = gateway.record(error.response.headers["X-SynthGuard-Record-Id"])
        assert (record.status, record.error_code) == ("refused", "service_suspended")
        switches.release("generation", **ORDER)

        switches.engage("model", model=OTHER_MODEL, **ORDER)
        error = _refused(gateway, client, OTHER_MODEL)
        assert error.status_code == 503 and error.code == "model_suspended"
        assert _chat(client, "still served").parse().choices[0].message.content
        switches.release("model", model=OTHER_MODEL, **ORDER)
        assert _chat(client, "served again", OTHER_MODEL).parse().choices[0].message.content


def _sentence(prompt: str, n: int) -> str:
    return "".join(demo_words(prompt)).split(". ")[n] + "."


def test_refuted_rumor_in_the_output_gets_the_notice_or_is_withheld(
        database: Database) -> None:
    for gateway in run_gateway(database):
        _, key = gateway.key()
        client = gateway.client(key)
        rumors = _governance(gateway).rumors
        claim = rumors.add(_sentence("rumor one", 2), "该说法已被官方辟谣。",
                           sources=["https://www.piyao.org.cn/example"],
                           refuted_on=date(2025, 9, 1), actor="editor")

        raw = _chat(client, "rumor one")
        text = raw.parse().choices[0].message.content
        assert "【辟谣】该说法已被官方辟谣。（来源：https://www.piyao.org.cn/example）" in text
        record_id = raw.headers["X-SynthGuard-Record-Id"]
        review = gateway.record(record_id).output_review or {}
        assert review["rumor"]["action"] == "notice"
        assert review["rumor"]["claims"][0]["claim_id"] == claim.id
        assert [m.subject_ref for m in rumors.matches(claim_id=claim.id)] == [record_id]

        streamed = "".join(chunk.choices[0].delta.content or "" for chunk in
                           client.chat.completions.create(model=MODEL, messages=[  # type: ignore[call-overload]
                               {"role": "user", "content": "rumor one"}], stream=True))
        assert "【辟谣】该说法已被官方辟谣。" in streamed
        assert streamed.index(claim.claim) < streamed.index("【辟谣】")

        blocked = rumors.add(_sentence("rumor two", 2), "谣言，已查证不实。",
                             sources=["https://www.piyao.org.cn/other"],
                             refuted_on=date(2025, 9, 1), actor="editor", action="block")
        with pytest.raises(openai.BadRequestError) as caught:
            _chat(client, "rumor two")
        assert caught.value.code == "output_blocked"
        seen = ""
        with pytest.raises(openai.APIError) as failed:
            for chunk in client.chat.completions.create(model=MODEL, messages=[  # type: ignore[call-overload]
                    {"role": "user", "content": "rumor two"}], stream=True):
                seen += chunk.choices[0].delta.content or ""
        assert "output was blocked" in str(failed.value)
        assert blocked.claim not in seen and seen  # stopped before the claim's window
        streams = [r for r in gateway.all_records() if r.status == "blocked_output"]
        assert len(streams) == 2
        assert all((r.output_review or {})["rumor"]["action"] == "block" for r in streams)


def test_models_show_filings_and_sign_up_follows_the_switch(gateway: Gateway) -> None:
    _, key = gateway.key()
    client = gateway.client(key)
    assert client.models.list().data[0].model_extra == {"filing": None}
    governance = _governance(gateway)
    governance.registry.register_algorithm(
        "演示生成算法", "generative", [MODEL], actor="ops",
        filing_number="Beijing-SynthGuard-202501010001",
        public_info_url="https://beian.example.cn/algorithms/1")
    listed = client.models.list().data[0].model_extra or {}
    assert listed["filing"]["filing_number"] == "Beijing-SynthGuard-202501010001"
    assert listed["filing"]["public_info_url"] == "https://beian.example.cn/algorithms/1"
    one = client.models.retrieve(MODEL).model_extra or {}
    assert one["filing"] == listed["filing"]

    with httpx.Client(base_url=gateway.url) as http:
        governance.switches.engage("registrations", **ORDER)
        refused = http.post("/v1/identity/signup", json={"name": "新用户"})
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "registrations_suspended"
        governance.switches.release("registrations", **ORDER)
        assert http.post("/v1/identity/signup", json={"name": "新用户"}).status_code == 201


def test_generation_waits_for_policy_acceptance(sqlite_gateway: Gateway) -> None:
    _, key = sqlite_gateway.key()
    client = sqlite_gateway.client(key)
    _governance(sqlite_gateway).policies.publish(
        "platform_conventions", "平台公约", "# 平台公约\n\n遵守法律法规。", actor="ops")
    with pytest.raises(openai.PermissionDeniedError) as caught:
        client.chat.completions.create(model=MODEL, messages=USER)  # type: ignore[arg-type]
    assert caught.value.code == "policy_acceptance_required"
    accepted = httpx.post(f"{sqlite_gateway.url}/v1/governance/policies/platform_conventions/"
                          "accept", json={"version": 1},
                          headers={"Authorization": f"Bearer {key}"})
    assert accepted.status_code == 200, accepted.text
    assert _chat(client, "after accepting").parse().choices[0].message.content
