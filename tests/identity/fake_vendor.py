"""A stand-in for the third-party services, as a real HTTP server on loopback.

It speaks the vendor-neutral JSON of `synthguard.identity.adapters`: `/sms` keeps the
messages in `outbox` (tests read the codes there, as a person reads their phone),
`/person`, `/organisation` and `/network-identity` answer from the tables the test
fills. `fail_with` makes every answer a given HTTP status, `raw_answer` replaces the
body, `delay_s` makes it slow. Every request is kept in `requests`.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CREDENTIAL = "vendor-test-credential"


@dataclass
class Sms:
    phone: str
    code: str
    purpose: str
    details: dict[str, str]


@dataclass
class FakeVendor:
    url: str = ""
    persons: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # id -> (name, mobile)
    organisations: dict[str, str] = field(default_factory=dict)  # uscc -> name
    tickets: dict[str, str] = field(default_factory=dict)  # ticket -> opaque subject
    outbox: list[Sms] = field(default_factory=list)
    requests: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)
    fail_with: int | None = None
    raw_answer: bytes | None = None
    delay_s: float = 0.0
    counter: int = 0

    def last_code(self, phone: str) -> str:
        for sms in reversed(self.outbox):
            if sms.phone == phone:
                return sms.code
        raise AssertionError("no SMS was sent to that phone")

    def answer(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        self.counter += 1
        reference = f"txn-{self.counter:06d}"
        if path == "/sms":
            self.outbox.append(Sms(body["phone"], body["code"], body["purpose"],
                                   body.get("details", {})))
            return {"status": "queued", "reference": reference}
        if path == "/person":
            known = self.persons.get(body["id_number"])
            if known is None:
                return {"result": "no_record", "reference": reference}
            name, mobile = known
            same_mobile = body["method"] != "operator_three_element" or body["mobile"] == mobile
            result = "match" if name == body["name"] and same_mobile else "mismatch"
            return {"result": result, "reference": reference}
        if path == "/organisation":
            name = self.organisations.get(body["uscc"])
            if name is None:
                return {"result": "no_record", "reference": reference}
            return {"result": "match" if name == body["name"] else "mismatch",
                    "reference": reference}
        if path == "/network-identity":
            subject = self.tickets.get(body["ticket"])
            if subject is None:
                return {"result": "mismatch", "reference": reference}
            # A real service may send more than we read; none of it may be stored.
            return {"result": "match", "subject": subject, "reference": reference,
                    "name": "不应保存", "id_number": "11010519491231002X"}
        raise KeyError(path)


class _Handler(BaseHTTPRequestHandler):
    vendor: FakeVendor

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        return

    def do_POST(self) -> None:
        vendor = self.server.vendor  # type: ignore[attr-defined]
        length = int(self.headers.get("content-length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        vendor.requests.append((self.path, body, self.headers.get("authorization", "")))
        if vendor.delay_s:
            time.sleep(vendor.delay_s)
        if self.headers.get("authorization") != f"Bearer {CREDENTIAL}":
            self._send(401, b'{"error":"bad credential"}')
        elif vendor.fail_with is not None:
            self._send(vendor.fail_with, b'{"error":"failure"}')
        elif vendor.raw_answer is not None:
            self._send(200, vendor.raw_answer)
        else:
            try:
                answer = vendor.answer(self.path, body)
            except KeyError:
                self._send(404, b"{}")
                return
            self._send(200, json.dumps(answer).encode())

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that gave up (a timeout test) leaves a broken pipe: not a failure.
        return


class FakeVendorServer:
    def __init__(self) -> None:
        self.vendor = FakeVendor()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.vendor = self.vendor  # type: ignore[attr-defined]
        self.vendor.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.02}, daemon=True)

    def __enter__(self) -> FakeVendor:
        self._thread.start()
        return self.vendor

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
