"""Chat completions through a running gateway with the official openai client: labels,
records, blocked inputs and outputs, fail-closed streaming review."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import openai
import pytest

from synthguard.accounts import canonical_digest
from synthguard.explicit import DEFAULT_ZH
from synthguard.gateway.backends.demo import demo_words
from synthguard.gateway.review import ReviewContext, ReviewResult, RuleReviewer, Stage
from synthguard.store import Database
from tests.gateway.conftest import (
    BLOCKED_WORD,
    MODEL,
    PRODUCER,
    RULES,
    Gateway,
    make_config,
    run_gateway,
)

USER = [{"role": "user", "content": "Tell me about rivers."}]
SPELLED = "demo:spell:" + "-".join(BLOCKED_WORD)  # the demo model writes the word itself


def _label(header: str, record_id: str) -> None:
    fields = json.loads(header)
    assert fields["Label"] == "1"
    assert fields["ContentProducer"] == PRODUCER
    assert fields["ProduceID"] == record_id
    assert fields["ContentPropagator"] == PRODUCER and fields["PropagateID"] == record_id


def test_chat_plain_is_labeled_and_recorded(gateway: Gateway) -> None:
    _, key = gateway.key()
    raw = gateway.client(key).chat.completions.with_raw_response.create(
        model=MODEL, messages=USER)
    completion = raw.parse()
    record_id = raw.headers["x-synthguard-record-id"]
    text = completion.choices[0].message.content or ""
    expected = "".join(demo_words(USER[0]["content"]))
    assert text == f"{DEFAULT_ZH}\n\n{expected}"
    assert completion.id == f"chatcmpl-{record_id}"
    assert completion.choices[0].finish_reason == "stop"
    _label(raw.headers["x-synthguard-label"], record_id)
    extension = (completion.model_extra or {})["synthguard"]
    assert extension["record_id"] == record_id
    assert extension["label"] == json.loads(raw.headers["x-synthguard-label"])
    assert float(raw.headers["x-synthguard-overhead-ms"]) >= 0

    record = gateway.record(record_id)
    assert record.status == "ok" and record.error_code is None
    assert record.model == MODEL and record.endpoint == "/v1/chat/completions"
    assert record.output_digest == canonical_digest(text)
    assert record.input_digest is not None and len(record.input_digest) == 64
    assert record.output_review is not None and record.output_review["windows_reviewed"] == 1
    assert record.output_review["decision"] == "allowed"
    assert record.input_review is not None and record.input_review["decision"] == "allowed"
    assert record.labels is not None and record.labels["implicit"]["fields"]["ProduceID"] == \
        record_id
    # Records carry digests and ids, never the text itself.
    assert "rivers" not in json.dumps([record.input_review, record.output_review,
                                       record.labels])


def test_chat_stream_is_sse_with_notice_first(gateway: Gateway) -> None:
    _, key = gateway.key()
    with gateway.client(key).chat.completions.with_streaming_response.create(
            model=MODEL, messages=USER, stream=True) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        record_id = response.headers["x-synthguard-record-id"]
        _label(response.headers["x-synthguard-label"], record_id)
        chunks = list(response.parse())
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert all(c.id == f"chatcmpl-{record_id}" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].choices[0].delta.content == f"{DEFAULT_ZH}\n\n"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert (chunks[0].model_extra or {})["synthguard"]["record_id"] == record_id
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == f"{DEFAULT_ZH}\n\n" + "".join(demo_words(USER[0]["content"]))

    record = gateway.record(record_id)
    review = record.output_review
    assert record.status == "ok" and review is not None
    assert review["complete"] is True and review["decision"] == "allowed"
    assert review["windows_reviewed"] == review["windows_released"] == len(chunks) - 2
    assert record.output_digest == canonical_digest(text)


def test_stream_ends_with_done(gateway: Gateway) -> None:
    """The raw SSE framing: data lines, blank-line separated, ending in [DONE]."""
    import httpx

    _, key = gateway.key()
    body = {"model": MODEL, "messages": USER, "stream": True}
    with httpx.stream("POST", f"{gateway.url}/v1/chat/completions", json=body,
                      headers={"Authorization": f"Bearer {key}"}) as response:
        raw = response.read().decode()
    events = [e for e in raw.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    assert json.loads(events[-2][6:])["choices"][0]["finish_reason"] == "stop"


def test_blocked_input_is_refused_and_recorded(gateway: Gateway) -> None:
    user, key = gateway.key()
    client = gateway.client(key)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": f"Write about {BLOCKED_WORD}"}])
    error = caught.value
    assert error.code == "content_blocked" and error.param == "messages"
    record = gateway.record(error.response.headers["x-synthguard-record-id"])
    assert record.status == "blocked_input" and record.error_code == "content_blocked"
    assert record.user_id == user and record.output_digest is None
    assert record.input_review is not None and record.input_review["rule_ids"] == ["T-001"]
    assert record.enforcement is not None and record.enforcement["state_after"] == "active"


def test_full_width_variant_of_blocked_word_is_blocked(gateway: Gateway) -> None:
    _, key = gateway.key()
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in BLOCKED_WORD.upper())
    with pytest.raises(openai.BadRequestError) as caught:
        gateway.client(key).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": full_width}])
    assert caught.value.code == "content_blocked"


def test_three_blocked_inputs_suspend_the_account(gateway: Gateway) -> None:
    user, key = gateway.key()
    client = gateway.client(key)
    bad = [{"role": "user", "content": BLOCKED_WORD}]
    for _ in range(3):
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(model=MODEL, messages=bad)
    with pytest.raises(openai.PermissionDeniedError) as caught:
        client.chat.completions.create(model=MODEL, messages=USER)
    assert caught.value.code == "account_suspended"
    assert str(gateway.accounts.user_state(user)) == "suspended"
    records = [r for r in gateway.all_records() if r.user_id == user]
    assert [r.status for r in records] == ["blocked_input"] * 3 + ["refused"]
    assert records[2].enforcement == {"state_before": "active", "state_after": "suspended",
                                      "changed": True}


def test_blocked_output_mid_stream_stops_release(gateway: Gateway) -> None:
    _, key = gateway.key()
    received: list[str] = []
    stream = gateway.client(key).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": SPELLED}], stream=True)
    with pytest.raises(openai.APIError) as caught:
        for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")
    assert "blocked by content review" in caught.value.message
    assert isinstance(caught.value.body, dict) and caught.value.body["code"] == "output_blocked"
    text = "".join(received)
    assert text.startswith(DEFAULT_ZH) and len(received) >= 2  # notice and first sentence
    assert BLOCKED_WORD not in text

    record = gateway.all_records()[-1]
    review = record.output_review
    assert record.status == "blocked_output" and record.error_code == "output_blocked"
    assert review is not None and review["complete"] is False
    assert review["windows_reviewed"] == review["windows_released"] + 1
    assert review["rule_ids"] == ["T-001"]
    assert record.output_digest == canonical_digest(text)


def test_blocked_output_whole_answer(gateway: Gateway) -> None:
    _, key = gateway.key()
    with pytest.raises(openai.BadRequestError) as caught:
        gateway.client(key).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": SPELLED}])
    assert caught.value.code == "output_blocked"
    record = gateway.record(caught.value.response.headers["x-synthguard-record-id"])
    assert record.status == "blocked_output" and record.output_digest is None


class _FailingReviewer:
    """Passes the input and the first `good` output windows, then raises or hangs."""

    name = "failing"

    def __init__(self, good: int, *, hang: bool = False) -> None:
        self._rules = RuleReviewer(RULES)
        self._good = good
        self._hang = hang
        self._seen = 0
        self._release = threading.Event()

    def review(self, text: str, *, stage: Stage, context: ReviewContext) -> ReviewResult:
        if stage == "input":
            return self._rules.review(text, stage=stage, context=context)
        self._seen += 1
        if self._seen <= self._good:
            return ReviewResult(True)
        if self._hang:
            self._release.wait(10)
            return ReviewResult(True)
        raise RuntimeError("reviewer backend down")


@pytest.fixture(params=["raises", "hangs"])
def failing(request: pytest.FixtureRequest, sqlite_database: Database) -> Iterator[Gateway]:
    reviewer = _FailingReviewer(1, hang=request.param == "hangs")
    try:
        yield from run_gateway(sqlite_database, reviewer=reviewer, review_timeout_s=2)
    finally:
        reviewer._release.set()


def test_review_failure_mid_stream_fails_closed(failing: Gateway) -> None:
    _, key = failing.key()
    received: list[str] = []
    started = time.monotonic()
    with pytest.raises(openai.APIError) as caught:
        for chunk in failing.client(key).chat.completions.create(
                model=MODEL, messages=USER, stream=True):
            received.append(chunk.choices[0].delta.content or "")
    assert time.monotonic() - started < 10
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["code"] == "review_unavailable"
    # The notice, then exactly the one window that was reviewed; nothing unreviewed.
    first_sentence = "".join(demo_words(USER[0]["content"])).split(".")[0] + "."
    assert received == [f"{DEFAULT_ZH}\n\n", first_sentence]

    record = failing.all_records()[-1]
    review = record.output_review
    assert record.status == "error" and record.error_code == "review_unavailable"
    assert review is not None and review["decision"] == "failed"
    assert review["complete"] is False
    assert review["windows_reviewed"] == review["windows_released"] == 1


def test_review_failure_whole_answer_withholds_output(failing: Gateway) -> None:
    _, key = failing.key()
    failing_reviewer_passes_first = failing.client(key)
    # The first output review passes (good=1); the second request's output review fails.
    failing_reviewer_passes_first.chat.completions.create(model=MODEL, messages=USER)
    with pytest.raises(openai.InternalServerError) as caught:
        failing_reviewer_passes_first.chat.completions.create(model=MODEL, messages=USER)
    assert caught.value.status_code == 503 and caught.value.code == "review_unavailable"
    assert failing.all_records()[-1].status == "error"


def test_notice_at_both_ends_in_streams_and_answers(sqlite_database: Database) -> None:
    notice = "AI生成 | AI-generated content"
    config = make_config(notice=notice, notice_position="both")
    for gateway in run_gateway(sqlite_database, config):
        _, key = gateway.key()
        client = gateway.client(key)
        body = "".join(demo_words(USER[0]["content"]))
        answer = client.chat.completions.create(model=MODEL, messages=USER)
        assert answer.choices[0].message.content == f"{notice}\n\n{body}\n\n{notice}\n"
        chunks = list(client.chat.completions.create(model=MODEL, messages=USER, stream=True))
        contents = [c.choices[0].delta.content or "" for c in chunks]
        assert contents[0] == f"{notice}\n\n" and contents[-2] == f"\n\n{notice}"
        assert chunks[-1].choices[0].finish_reason == "stop" and contents[-1] == ""
        assert "".join(contents) == f"{notice}\n\n{body}\n\n{notice}"


def test_client_leaving_mid_stream_is_recorded_as_incomplete(sqlite_database: Database) -> None:
    import httpx

    for gateway in run_gateway(sqlite_database, demo_delay_s=0.02):
        _, key = gateway.key()
        body = {"model": MODEL, "messages": USER, "stream": True}
        with httpx.stream("POST", f"{gateway.url}/v1/chat/completions", json=body,
                          headers={"Authorization": f"Bearer {key}"}) as response:
            record_id = response.headers["x-synthguard-record-id"]
            events = response.iter_lines()
            next(e for e in events if e.startswith("data: "))  # the notice chunk
        deadline = time.monotonic() + 10
        while (record := gateway.records.get(record_id)) is None:
            assert time.monotonic() < deadline, "no record for the abandoned stream"
            time.sleep(0.05)
        review = record.output_review
        assert record.status == "error" and record.error_code == "client_disconnected"
        assert review is not None and review["complete"] is False
        assert review["decision"] == "incomplete"
        assert review["windows_reviewed"] == review["windows_released"]
