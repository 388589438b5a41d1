"""Who may generate: keys, scopes, rate limits, account states, the identity and consent
gates; every refusal is an OpenAI-style error and leaves a record."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from synthguard.accounts import AccountState
from synthguard.gateway.consent import ConsentVerdict, MemoryConsentStore, StoreConsentChecker
from synthguard.store import Database
from tests.gateway.conftest import MODEL, Gateway, run_gateway

USER = [{"role": "user", "content": "Hello"}]


def _refusal(gateway: Gateway, error: openai.APIStatusError) -> None:
    """The body is OpenAI-shaped and the refusal is on record."""
    body = error.response.json()
    assert set(body["error"]) == {"message", "type", "code", "param"}
    record = gateway.record(error.response.headers["x-synthguard-record-id"])
    assert record.status == "refused" and record.error_code == body["error"]["code"]
    assert record.output_digest is None


@pytest.mark.parametrize("key", ["", "sg-" + "x" * 32, "not-a-key"])
def test_invalid_key_is_401(sqlite_gateway: Gateway, key: str) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        sqlite_gateway.client(key or "missing").chat.completions.create(model=MODEL,
                                                                         messages=USER)
    assert caught.value.code == "invalid_api_key"
    _refusal(sqlite_gateway, caught.value)
    record = sqlite_gateway.record(caught.value.response.headers["x-synthguard-record-id"])
    assert record.user_id is None and record.key_id is None


def test_missing_authorization_header_is_401(sqlite_gateway: Gateway) -> None:
    response = httpx.post(f"{sqlite_gateway.url}/v1/chat/completions",
                          json={"model": MODEL, "messages": USER})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_revoked_key_is_401(sqlite_gateway: Gateway) -> None:
    _, key = sqlite_gateway.key()
    client = sqlite_gateway.client(key)
    client.chat.completions.create(model=MODEL, messages=USER)
    key_id = sqlite_gateway.accounts.authenticate(key).key_id  # type: ignore[union-attr]
    sqlite_gateway.accounts.revoke_key(key_id, "tester")
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model=MODEL, messages=USER)


def test_unverified_account_is_refused(database: Database) -> None:
    for gateway in run_gateway(database):
        _, key = gateway.key(verified=False)
        with pytest.raises(openai.PermissionDeniedError) as caught:
            gateway.client(key).chat.completions.create(model=MODEL, messages=USER)
        assert caught.value.code == "identity_unverified"
        assert "real-name verification" in caught.value.message
        _refusal(gateway, caught.value)


@pytest.mark.parametrize("state", [AccountState.SUSPENDED, AccountState.CLOSED])
def test_suspended_and_closed_accounts_are_refused(database: Database,
                                                   state: AccountState) -> None:
    for gateway in run_gateway(database):
        _, key = gateway.key(state=state)
        with pytest.raises(openai.PermissionDeniedError) as caught:
            gateway.client(key).images.generate(model=MODEL, prompt="a cat", size="256x256")
        assert caught.value.code == f"account_{state.value}"
        _refusal(gateway, caught.value)


def test_limited_account_keeps_chat_only(sqlite_gateway: Gateway) -> None:
    _, key = sqlite_gateway.key(state=AccountState.LIMITED)
    client = sqlite_gateway.client(key)
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=USER)
    assert raw.headers["x-synthguard-account-state"] == "limited"
    with pytest.raises(openai.PermissionDeniedError) as caught:
        client.audio.speech.create(model=MODEL, voice="alloy", input="hi")
    assert caught.value.code == "account_limited"


def test_warned_account_is_served_and_told(sqlite_gateway: Gateway) -> None:
    _, key = sqlite_gateway.key(state=AccountState.WARNED)
    raw = sqlite_gateway.client(key).chat.completions.with_raw_response.create(
        model=MODEL, messages=USER)
    assert raw.headers["x-synthguard-account-state"] == "warned"


def test_key_scope_is_enforced(sqlite_gateway: Gateway) -> None:
    _, key = sqlite_gateway.key(scopes=("chat",))
    with pytest.raises(openai.PermissionDeniedError) as caught:
        sqlite_gateway.client(key).images.generate(model=MODEL, prompt="a cat")
    assert caught.value.code == "insufficient_scope"
    _refusal(sqlite_gateway, caught.value)


def test_rate_limit_is_429_with_retry_after(sqlite_gateway: Gateway) -> None:
    _, key = sqlite_gateway.key(rate_limit_per_min=2)
    client = sqlite_gateway.client(key)
    for _ in range(2):
        client.chat.completions.create(model=MODEL, messages=USER)
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model=MODEL, messages=USER)
    assert caught.value.code == "rate_limit_exceeded"
    assert int(caught.value.response.headers["retry-after"]) >= 1
    _refusal(sqlite_gateway, caught.value)


@pytest.fixture
def consent_gateway(sqlite_database: Database) -> Iterator[tuple[Gateway, MemoryConsentStore]]:
    store = MemoryConsentStore()
    for gateway in run_gateway(sqlite_database, consent=StoreConsentChecker(store)):
        yield gateway, store


def test_biometric_edit_needs_known_consent(
        consent_gateway: tuple[Gateway, MemoryConsentStore]) -> None:
    gateway, store = consent_gateway
    user, key = gateway.key()
    client = gateway.client(key)
    edit = {"model": MODEL, "voice": "alloy", "input": "Say this in her voice."}
    with pytest.raises(openai.PermissionDeniedError) as caught:
        client.audio.speech.create(**edit, extra_body={"synthguard": {"biometric_edit": "voice"}})
    assert caught.value.code == "consent_required" and "no consent_id" in caught.value.message
    _refusal(gateway, caught.value)
    with_id = {"synthguard": {"biometric_edit": "voice", "consent_id": "consent-42"}}
    with pytest.raises(openai.PermissionDeniedError) as caught:
        client.audio.speech.create(**edit, extra_body=with_id)
    assert "not a known consent record" in caught.value.message
    store.grant(user, "voice", "consent-42")
    audio = client.audio.speech.create(**edit, extra_body=with_id, response_format="wav")
    assert audio.content[:4] == b"RIFF"
    # The consent covers voice edits by this user only, not face edits.
    face = {"synthguard": {"biometric_edit": "face", "consent_id": "consent-42"}}
    with pytest.raises(openai.PermissionDeniedError):
        client.images.generate(model=MODEL, prompt="her face", size="256x256", extra_body=face)


def test_unknown_model_is_404(sqlite_gateway: Gateway) -> None:
    _, key = sqlite_gateway.key()
    with pytest.raises(openai.NotFoundError) as caught:
        sqlite_gateway.client(key).chat.completions.create(model="no-such-model", messages=USER)
    assert caught.value.code == "model_not_found" and caught.value.param == "model"
    _refusal(sqlite_gateway, caught.value)


@pytest.mark.parametrize(("body", "param"), [
    (b"{not json", None),
    (b"\xff\xfe not utf-8", None),
    (b"[" * 200_000, None),
    (b"[]", None),
    (b'{"model": "synthguard-demo"}', "messages"),
    (b'{"model": "synthguard-demo", "messages": [{"role": "wizard", "content": "x"}]}',
     "messages.0.role"),
    (b'{"model": "synthguard-demo", "messages": [{"role": "user", "content": "x"}],'
     b' "tools": [{"type": "function"}]}', "tools"),
    (b'{"model": "synthguard-demo", "messages": [{"role": "user", "content": "x"}], "n": 2}',
     "n"),
])
def test_invalid_bodies_are_400(sqlite_gateway: Gateway, body: bytes, param: str | None) -> None:
    _, key = sqlite_gateway.key()
    response = httpx.post(f"{sqlite_gateway.url}/v1/chat/completions", content=body,
                          headers={"Authorization": f"Bearer {key}",
                                   "Content-Type": "application/json"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param
    record = sqlite_gateway.record(response.headers["x-synthguard-record-id"])
    assert record.status == "refused"


def test_oversized_body_is_413(sqlite_gateway: Gateway) -> None:
    _, key = sqlite_gateway.key()
    response = httpx.post(f"{sqlite_gateway.url}/v1/chat/completions",
                          content=b"x" * (9 * 1024 * 1024),
                          headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


def test_speech_formats_without_label_carrier_are_refused(sqlite_gateway: Gateway) -> None:
    _, key = sqlite_gateway.key()
    with pytest.raises(openai.BadRequestError) as caught:
        sqlite_gateway.client(key).audio.speech.create(model=MODEL, voice="alloy", input="hi",
                                                       response_format="pcm")
    assert caught.value.param == "response_format"


def test_models_health_and_readiness(database: Database) -> None:
    for gateway in run_gateway(database):
        _, key = gateway.key()
        models = gateway.client(key).models.list()
        assert [m.id for m in models.data] == [MODEL]
        assert gateway.client(key).models.retrieve(MODEL).id == MODEL
        with pytest.raises(openai.AuthenticationError):
            gateway.client("sg-wrong").models.list()
        assert httpx.get(f"{gateway.url}/healthz").json() == {"status": "ok"}
        ready = httpx.get(f"{gateway.url}/readyz")
        assert ready.status_code == 200 and ready.json()["database"] == "ok"
        missing = httpx.get(f"{gateway.url}/v1/nothing-here")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_readyz_fails_when_database_is_gone(tmp_path: Path) -> None:
    folder = tmp_path / "db"
    database = Database(f"sqlite:///{folder / 'gateway.db'}")
    database.migrate()
    for gateway in run_gateway(database):
        # The audit task's first round (ingest, checkpoint) runs at startup; once it has
        # published, the database is idle until the next round, a minute later.
        deadline = time.monotonic() + 20
        while httpx.get(f"{gateway.url}/audit/checkpoint").status_code != 200:
            assert time.monotonic() < deadline, "no audit checkpoint at startup"
            time.sleep(0.05)
        database.dispose()
        (folder / "gateway.db").unlink()
        folder.rmdir()
        folder.write_text("not a folder any more")
        response = httpx.get(f"{gateway.url}/readyz")
        assert response.status_code == 503
        # A generation request that cannot be recorded is refused, not served.
        refused = httpx.post(f"{gateway.url}/v1/chat/completions",
                             json={"model": MODEL, "messages": USER},
                             headers={"Authorization": f"Bearer sg-{'a' * 32}"})
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "store_unavailable"


def test_every_request_has_exactly_one_record(sqlite_gateway: Gateway) -> None:
    _, key = sqlite_gateway.key(rate_limit_per_min=5)
    client = sqlite_gateway.client(key)
    seen: list[str] = []
    for i in range(7):  # 5 allowed, then 2 rate limited
        try:
            raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=USER)
            seen.append(raw.headers["x-synthguard-record-id"])
        except openai.APIStatusError as exc:
            seen.append(exc.response.headers["x-synthguard-record-id"])
        assert len(seen) == i + 1
    records = sqlite_gateway.all_records()
    assert [r.id for r in records] == seen
    assert [r.status for r in records] == ["ok"] * 5 + ["refused"] * 2


class _RecordingChecker:
    """Grants everything; remembers what the consent gate asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str | None, str, str | None]] = []

    def check(self, consent_id: str | None, *, kind: str, user_id: str,
              output: str | None = None) -> ConsentVerdict:
        self.asked.append((consent_id, kind, output))
        return ConsentVerdict(True)


def test_consent_gate_says_what_the_edit_produces(sqlite_database: Database) -> None:
    checker = _RecordingChecker()
    for gateway in run_gateway(sqlite_database, consent=checker):
        _, key = gateway.key()
        client = gateway.client(key)
        face = {"synthguard": {"biometric_edit": "face", "consent_id": "c-1"}}
        client.images.generate(model=MODEL, prompt="p", size="256x256", extra_body=face)
        client.chat.completions.create(model=MODEL, messages=USER, extra_body=face)
        client.audio.speech.create(model=MODEL, voice="v", input="hi", extra_body={
            "synthguard": {"biometric_edit": "voice", "consent_id": "c-2"}})
        client.chat.completions.create(model=MODEL, messages=USER)  # no edit: no check
    assert checker.asked == [("c-1", "face", "image"), ("c-1", "face", None),
                             ("c-2", "voice", "audio")]
