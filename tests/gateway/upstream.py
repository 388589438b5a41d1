"""A mock OpenAI-compatible model server for backend tests; `Upstream.mode` picks its
behaviour per test and `Upstream.seen` keeps what it was sent."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

WORDS = ["Upstream ", "says ", "hello. ", "Then ", "it ", "goes ", "on."]


def png(colour: tuple[int, int, int] = (10, 120, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (128, 96), colour).save(out, format="PNG")
    return out.getvalue()


def _chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    body = {"id": "up-1", "object": "chat.completion.chunk", "created": 0, "model": "up",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(body)}\n\n".encode()


@dataclass
class Upstream:
    mode: str = "ok"  # ok | status:<code> | slow | break | url
    seen: list[dict[str, Any]] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/v1/chat/completions", self.chat, methods=["POST"]),
            Route("/v1/images/generations", self.images, methods=["POST"]),
            Route("/v1/audio/speech", self.speech, methods=["POST"]),
            Route("/files/image.png", self.image_file, methods=["GET"]),
        ])

    async def _common(self, request: Request) -> tuple[dict[str, Any], Response | None]:
        body = await request.json()
        self.seen.append({"path": request.url.path, "body": body,
                          "authorization": request.headers.get("authorization")})
        if self.mode.startswith("status:"):
            status = int(self.mode.split(":")[1])
            return body, JSONResponse({"error": {"message": f"upstream says {status}"}},
                                      status)
        if self.mode == "slow":
            await asyncio.sleep(2)
        return body, None

    async def chat(self, request: Request) -> Response:
        body, error = await self._common(request)
        if error is not None:
            return error
        if not body.get("stream"):
            return JSONResponse({"id": "up-1", "object": "chat.completion", "created": 0,
                                 "model": body["model"], "choices": [{
                                     "index": 0, "finish_reason": "length",
                                     "message": {"role": "assistant",
                                                 "content": "".join(WORDS)}}],
                                 "usage": {"prompt_tokens": 3, "completion_tokens": 7,
                                           "total_tokens": 10}})

        async def events() -> AsyncIterator[bytes]:
            yield _chunk({"role": "assistant", "content": ""})
            for i, word in enumerate(WORDS):
                if self.mode == "break" and i == 4:
                    raise RuntimeError("upstream crashed mid-stream")
                yield _chunk({"content": word})
            yield _chunk({}, "stop")
            yield b"data: [DONE]\n\n"
        return StreamingResponse(events(), media_type="text/event-stream")

    async def images(self, request: Request) -> Response:
        body, error = await self._common(request)
        if error is not None:
            return error
        if self.mode == "url":
            return JSONResponse({"created": 0, "data": [
                {"url": f"{request.base_url}files/image.png"}]})
        return JSONResponse({"created": 0, "data": [
            {"b64_json": base64.b64encode(png()).decode()} for _ in range(body.get("n", 1))]})

    async def image_file(self, request: Request) -> Response:
        return Response(png((200, 40, 40)), media_type="image/png")

    async def speech(self, request: Request) -> Response:
        body, error = await self._common(request)
        if error is not None:
            return error
        from synthguard.gateway.backends.demo import demo_speech_samples, encode_speech

        return Response(encode_speech(demo_speech_samples(body["input"], "up"),
                                      body.get("response_format", "mp3")),
                        media_type="application/octet-stream")
