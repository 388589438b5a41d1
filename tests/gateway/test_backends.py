"""The OpenAI-compatible backend against a mock upstream, alone and behind the gateway;
and the demo generators."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import openai
import pytest
import soundfile  # type: ignore[import-untyped]
from PIL import Image

import synthguard
from synthguard.config import BackendRoute
from synthguard.explicit import DEFAULT_ZH
from synthguard.gateway.backends import BackendError, ChatDelta, OpenAICompatBackend
from synthguard.gateway.backends.demo import (
    SPEECH_RATE,
    demo_image,
    demo_speech_samples,
    demo_words,
)
from synthguard.store import Database
from tests.gateway.conftest import Gateway, LiveServer, make_config, run_gateway
from tests.gateway.upstream import WORDS, Upstream

ROUTE_MODEL = "house-model"


@pytest.fixture
def upstream() -> Iterator[tuple[Upstream, str]]:
    mock = Upstream()
    with LiveServer(mock.app()) as server:
        yield mock, f"{server.url}/v1"


def _backend(base_url: str, **route: object) -> OpenAICompatBackend:
    return OpenAICompatBackend(BackendRoute(kind="openai", base_url=base_url,
                                            api_key="up-secret", **route))  # type: ignore[arg-type]


def test_chat_stream_images_speech(upstream: tuple[Upstream, str]) -> None:
    mock, url = upstream

    async def run() -> None:
        backend = _backend(url)
        result = await backend.chat({"model": "m", "messages": []})
        assert result.text == "".join(WORDS) and result.finish_reason == "length"
        assert result.usage == {"prompt_tokens": 3, "completion_tokens": 7, "total_tokens": 10}
        deltas = [d async for d in backend.chat_stream({"model": "m", "stream": True})]
        assert "".join(d.text for d in deltas) == "".join(WORDS)
        assert deltas[-1] == ChatDelta("", "stop")
        images = await backend.images({"model": "m", "prompt": "p", "n": 2})
        assert len(images) == 2 and images[0][:8] == b"\x89PNG\r\n\x1a\n"
        mock.mode = "url"
        (fetched,) = await backend.images({"model": "m", "prompt": "p"})
        assert Image.open(io.BytesIO(fetched)).getpixel((0, 0)) == (200, 40, 40)
        mock.mode = "ok"
        audio = await backend.speech({"model": "m", "input": "Hi there.", "voice": "v",
                                      "response_format": "wav"})
        assert audio[:4] == b"RIFF"
        await backend.aclose()
    anyio.run(run)
    assert all(s["authorization"] == "Bearer up-secret" for s in mock.seen)
    image_requests = [s["body"] for s in mock.seen if s["path"].endswith("generations")]
    assert all(b["response_format"] == "b64_json" for b in image_requests)


@pytest.mark.parametrize(("status", "expected"), [(400, 400), (422, 400), (429, 429),
                                                  (401, 502), (500, 502), (503, 502)])
def test_upstream_errors_map_to_gateway_statuses(upstream: tuple[Upstream, str], status: int,
                                                 expected: int) -> None:
    mock, url = upstream
    mock.mode = f"status:{status}"

    async def run() -> BackendError:
        backend = _backend(url)
        try:
            with pytest.raises(BackendError) as caught:
                await backend.chat({"model": "m", "messages": []})
            with pytest.raises(BackendError):
                [d async for d in backend.chat_stream({"model": "m", "stream": True})]
        finally:
            await backend.aclose()
        return caught.value
    error = anyio.run(run)
    assert error.status == expected
    if expected == 400:
        assert f"upstream says {status}" in str(error)  # the client's own mistake: say why


def test_only_connect_errors_are_retried() -> None:
    route = BackendRoute(kind="openai", base_url="http://up.invalid/v1", connect_retries=2)

    def attempts(fail: type[httpx.TransportError] | None, failures: int) -> tuple[int, object]:
        calls = 0

        def handler(request: httpx.Request) -> httpx.Response:
            nonlocal calls
            calls += 1
            if fail is not None and calls <= failures:
                raise fail("upstream trouble", request=request)
            return httpx.Response(200, json={"choices": [{"message": {"content": "ok"}}]})

        async def run() -> object:
            backend = OpenAICompatBackend(route, transport=httpx.MockTransport(handler))
            try:
                return (await backend.chat({"model": "m"})).text
            except BackendError as exc:
                return exc
        result = anyio.run(run)
        return calls, result

    calls, result = attempts(httpx.ConnectError, 2)  # refused twice, then up
    assert (calls, result) == (3, "ok")
    calls, result = attempts(httpx.ConnectError, 99)  # never up: 1 try + 2 retries
    assert calls == 3 and isinstance(result, BackendError) and result.status == 502
    calls, result = attempts(httpx.ReadTimeout, 99)  # the upstream got it: never repeated
    assert calls == 1 and isinstance(result, BackendError) and result.status == 504
    calls, result = attempts(httpx.RemoteProtocolError, 99)
    assert calls == 1 and isinstance(result, BackendError) and result.status == 502


def test_connect_failure_to_closed_port_is_502(sqlite_database: Database) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    config = make_config(backends={ROUTE_MODEL: BackendRoute(kind="openai", base_url=closed,
                                                             connect_retries=1)})
    for gateway in run_gateway(sqlite_database, config):
        _, key = gateway.key()
        with pytest.raises(openai.InternalServerError) as caught:
            gateway.client(key).chat.completions.create(
                model=ROUTE_MODEL, messages=[{"role": "user", "content": "hi"}])
        assert caught.value.status_code == 502 and caught.value.code == "upstream_error"
        record = gateway.record(caught.value.response.headers["x-synthguard-record-id"])
        assert record.status == "error" and record.error_code == "upstream_error"


@pytest.fixture
def routed(upstream: tuple[Upstream, str], sqlite_database: Database
           ) -> Iterator[tuple[Gateway, Upstream]]:
    mock, url = upstream
    config = make_config(backends={ROUTE_MODEL: BackendRoute(
        kind="openai", base_url=url, api_key="up-secret", upstream_model="up-v2",
        timeout_s=1)})
    for gateway in run_gateway(sqlite_database, config):
        yield gateway, mock


def test_gateway_in_front_of_upstream(routed: tuple[Gateway, Upstream], tmp_path: Path) -> None:
    gateway, mock = routed
    _, key = gateway.key()
    client = gateway.client(key)
    messages = [{"role": "user", "content": "hi"}]
    completion = client.chat.completions.create(
        model=ROUTE_MODEL, messages=messages,  # type: ignore[arg-type]
        extra_body={"synthguard": {}, "logit_bias": {"1": 5}})
    assert completion.choices[0].message.content == f"{DEFAULT_ZH}\n\n" + "".join(WORDS)
    assert completion.usage is not None and completion.usage.total_tokens == 10
    sent = mock.seen[-1]["body"]
    assert sent["model"] == "up-v2" and "synthguard" not in sent and "logit_bias" not in sent
    assert mock.seen[-1]["authorization"] == "Bearer up-secret"

    streamed = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
        model=ROUTE_MODEL, messages=messages, stream=True))  # type: ignore[arg-type]
    assert streamed == f"{DEFAULT_ZH}\n\n" + "".join(WORDS)

    image = client.images.generate(model=ROUTE_MODEL, prompt="blue")
    path = tmp_path / "up.png"
    path.write_bytes(base64.b64decode(image.data[0].b64_json or ""))
    assert synthguard.inspect(path).verdict == "compliant"


def test_upstream_failures_behind_gateway(routed: tuple[Gateway, Upstream]) -> None:
    gateway, mock = routed
    _, key = gateway.key()
    client = gateway.client(key)
    messages = [{"role": "user", "content": "hi"}]
    mock.mode = "status:400"
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model=ROUTE_MODEL, messages=messages)  # type: ignore[arg-type]
    assert "upstream says 400" in bad.value.message
    mock.mode = "slow"  # route timeout is 1 s
    with pytest.raises(openai.InternalServerError) as slow:
        client.chat.completions.create(model=ROUTE_MODEL, messages=messages)  # type: ignore[arg-type]
    assert slow.value.status_code == 504 and slow.value.code == "upstream_timeout"
    mock.mode = "break"
    received: list[str] = []
    with pytest.raises(openai.APIError) as broken:
        for chunk in client.chat.completions.create(model=ROUTE_MODEL, messages=messages,  # type: ignore[arg-type]
                                                    stream=True):
            received.append(chunk.choices[0].delta.content or "")
    assert isinstance(broken.value.body, dict) and broken.value.body["code"] == "upstream_error"
    assert "".join(received) == f"{DEFAULT_ZH}\n\n" + "".join(WORDS[:3]).rstrip()
    statuses = [(r.status, r.error_code) for r in gateway.all_records()]
    assert statuses == [("error", "upstream_error"), ("error", "upstream_timeout"),
                        ("error", "upstream_error")]


def test_demo_generators_are_deterministic() -> None:
    assert demo_words("a prompt") == demo_words("a prompt") != demo_words("another prompt")
    assert "".join(demo_words("x demo:spell:a-b-c y")).count(" abc.") == 1
    assert len(demo_words("a prompt", max_words=5)) == 5
    assert demo_image("cat", 64, 48) == demo_image("cat", 64, 48) != demo_image("dog", 64, 48)
    assert Image.open(io.BytesIO(demo_image("cat", 64, 48))).size == (64, 48)
    samples = demo_speech_samples("Two words.", "alloy")
    assert samples.dtype.name == "float32" and 0.2 < len(samples) / SPEECH_RATE < 2
    assert abs(samples).max() < 1.0
    assert soundfile.info(io.BytesIO(
        __import__("synthguard.gateway.backends.demo", fromlist=["x"]).encode_speech(
            samples, "flac"))).samplerate == SPEECH_RATE
