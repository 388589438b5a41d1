"""Shared builders for the moderation tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from synthguard.moderation.engine import EngineOptions, ModerationEngine
from synthguard.moderation.library import Entry, make_release

ON = date(2026, 6, 1)


def entry(pattern: str, *, id: str = "e1", risk_id: str = "A.1.8", kind: str = "keyword",
          action: str = "block", **kw: Any) -> Entry:
    data: dict[str, Any] = {"id": id, "risk_id": risk_id, "kind": kind, "pattern": pattern,
                            "action": action, "source": "tests", "author": "alice",
                            "reviewer": "bob", "status": "active"}
    data.update(kw)
    return Entry.from_dict(data)


def engine_of(*entries: Entry, **kw: Any) -> ModerationEngine:
    options = kw.pop("options", EngineOptions())
    return ModerationEngine(make_release(entries, "test", on=ON), options=options, **kw)


@pytest.fixture
def make_engine() -> Callable[..., ModerationEngine]:
    return engine_of


Answer = Callable[[dict[str, Any]], tuple[int, Any]]


class FakeOpenAI:
    """A real HTTP server on loopback that answers /v1/chat/completions with `answer`
    (request JSON → status, body) and records the requests it got."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                fake.requests.append({"path": self.path, "body": body,
                                      "auth": self.headers.get("Authorization")})
                status, reply = fake.answer(body)
                data = reply if isinstance(reply, bytes) else json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAI:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def chat(content: str) -> dict[str, Any]:
    return {"id": "c1", "object": "chat.completion", "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}]}
