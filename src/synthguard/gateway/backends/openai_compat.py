"""Any OpenAI-compatible model server (vLLM, llama.cpp server, Ollama, a cloud API...).

One `httpx.AsyncClient` per route keeps connections alive. Only connection failures are
retried: a request the upstream has received may already be generating (and billing),
so a read timeout or a 5xx is reported, never silently repeated.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import httpx

from synthguard.config import BackendRoute
from synthguard.gateway.backends.base import BackendError, ChatDelta, ChatResult

MAX_IMAGE_BYTES = 50 * 1024 * 1024
MAX_UPSTREAM_MESSAGE = 300
CONNECT_BACKOFF_S = 0.1
T = TypeVar("T")


class OpenAICompatBackend:
    def __init__(self, route: BackendRoute, *,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        if not route.base_url:
            raise ValueError("an openai backend needs base_url")
        self.route = route
        headers = {"Authorization": f"Bearer {route.api_key}"} if route.api_key else {}
        self._client = httpx.AsyncClient(
            base_url=route.base_url.rstrip("/") + "/", headers=headers, transport=transport,
            timeout=httpx.Timeout(route.timeout_s, connect=min(route.timeout_s, 10.0)),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50))

    async def _with_connect_retries(self, call: Callable[[], Awaitable[T]]) -> T:
        for attempt in range(self.route.connect_retries + 1):
            try:
                return await call()
            except (httpx.ConnectError, httpx.ConnectTimeout):
                if attempt == self.route.connect_retries:
                    raise BackendError("cannot connect to the model server") from None
                await asyncio.sleep(CONNECT_BACKOFF_S * 2 ** attempt)
            except httpx.TimeoutException:
                raise BackendError("the model server timed out", status=504,
                                   timeout=True) from None
            except httpx.HTTPError as exc:
                raise BackendError(f"model server connection failed: {type(exc).__name__}"
                                   ) from None
        raise AssertionError("unreachable")

    async def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def call() -> httpx.Response:
            response = await self._client.request(method, url, **kwargs)
            _check(response)
            return response
        return await self._with_connect_retries(call)

    async def _post(self, path: str, payload: dict[str, Any]) -> httpx.Response:
        return await self._request("POST", path, json=payload)

    async def chat(self, payload: dict[str, Any]) -> ChatResult:
        body = _json(await self._post("chat/completions", payload))
        try:
            choice = body["choices"][0]
            text = choice["message"].get("content") or ""
            usage = body.get("usage")
            return ChatResult(str(text), str(choice.get("finish_reason") or "stop"),
                              usage if isinstance(usage, dict) else None)
        except (KeyError, IndexError, TypeError, AttributeError):
            raise BackendError("the model server's chat answer has no choices[0].message"
                               ) from None

    async def chat_stream(self, payload: dict[str, Any]) -> AsyncIterator[ChatDelta]:
        request = self._client.build_request("POST", "chat/completions", json=payload)

        async def send() -> httpx.Response:
            response = await self._client.send(request, stream=True)
            if response.status_code >= 400:
                await response.aread()
                await response.aclose()
                _check(response)
            return response

        response = await self._with_connect_retries(send)
        try:
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                delta = _stream_delta(data)
                if delta is not None:
                    yield delta
        except httpx.TimeoutException:
            raise BackendError("the model server stopped streaming", status=504,
                               timeout=True) from None
        except httpx.HTTPError as exc:
            raise BackendError(f"the model server's stream broke: {type(exc).__name__}"
                               ) from None
        finally:
            await response.aclose()

    async def images(self, payload: dict[str, Any]) -> list[bytes]:
        # Ask for the image bytes: the gateway must label the file before anyone sees it.
        body = _json(await self._post("images/generations",
                                      {**payload, "response_format": "b64_json"}))
        data = body.get("data")
        if not isinstance(data, list) or not data:
            raise BackendError("the model server's image answer has no data")
        return [await self._image_bytes(item) for item in data]

    async def _image_bytes(self, item: Any) -> bytes:
        if isinstance(item, dict) and isinstance(item.get("b64_json"), str):
            try:
                return base64.b64decode(item["b64_json"], validate=True)
            except ValueError:
                raise BackendError("the model server sent invalid base64 image data") from None
        if isinstance(item, dict) and isinstance(item.get("url"), str):
            # Some servers ignore response_format and give a URL; fetch it ourselves.
            response = await self._request("GET", item["url"])
            if len(response.content) > MAX_IMAGE_BYTES:
                raise BackendError("the model server's image is too large")
            return response.content
        raise BackendError("the model server's image item has neither b64_json nor url")

    async def speech(self, payload: dict[str, Any]) -> bytes:
        response = await self._post("audio/speech", payload)
        return response.content

    async def aclose(self) -> None:
        await self._client.aclose()


def _check(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    message = _upstream_message(response)
    status = response.status_code
    if status in (400, 404, 413, 422):
        # The upstream rejected the request itself (context too long, bad parameter):
        # the client's problem, so it gets a 400 with the upstream's reason.
        raise BackendError(f"the model server rejected the request: {message}", status=400)
    if status == 429:
        raise BackendError("the model server is rate limiting the gateway", status=429)
    if status in (401, 403):
        raise BackendError("the model server refused the gateway's credentials")
    raise BackendError(f"the model server failed with HTTP {status}")


def _upstream_message(response: httpx.Response) -> str:
    try:
        error = response.json().get("error")
        message = error.get("message") if isinstance(error, dict) else error
    except (ValueError, AttributeError):
        message = None
    return str(message or f"HTTP {response.status_code}")[:MAX_UPSTREAM_MESSAGE]


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise BackendError("the model server's answer is not JSON") from None
    if not isinstance(body, dict):
        raise BackendError("the model server's answer is not a JSON object")
    return body


def _stream_delta(data: str) -> ChatDelta | None:
    try:
        chunk = json.loads(data)
    except ValueError:
        raise BackendError("the model server streamed a chunk that is not JSON") from None
    if not isinstance(chunk, dict):
        raise BackendError("the model server streamed a chunk that is not an object")
    if chunk.get("error"):
        raise BackendError("the model server reported an error mid-stream")
    choices = chunk.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None  # e.g. a usage-only chunk
    choice = choices[0]
    delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
    content = delta.get("content") if isinstance(delta, dict) else None
    finish = choice.get("finish_reason")
    if not content and not finish:
        return None
    return ChatDelta(str(content or ""), str(finish) if finish else None)
