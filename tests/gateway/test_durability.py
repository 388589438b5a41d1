"""SIGKILL the gateway in the middle of a load run: every request whose response the
client received has its record in the database, with the status and output it got."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from synthguard.accounts import Accounts, Records, canonical_digest
from synthguard.store import Database
from tests.gateway.conftest import MODEL, make_config

REQUESTS = 200
WORKERS = 12
KILL_AFTER = 60  # responses received before the kill


@dataclass
class Received:
    record_id: str
    status: int
    streamed: bool
    text: str


def _start(database_url: str, tmp_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    port_file = tmp_path / "port"
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.gateway.gateway_process", database_url, str(port_file)],
        cwd=root, env={**os.environ, "PYTHONPATH": str(root)})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the gateway process exited")
        if port_file.exists():
            url = f"http://127.0.0.1:{port_file.read_text()}"
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    return process, url
            except httpx.TransportError:
                pass
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("the gateway process did not start")


def _text_of(events: str) -> str | None:
    """The streamed text, or None when the stream did not end with [DONE]."""
    parts = [e for e in events.split("\n\n") if e]
    if not parts or parts[-1] != "data: [DONE]":
        return None
    return "".join(json.loads(p[6:])["choices"][0]["delta"].get("content") or ""
                   for p in parts[:-1])


def test_sigkill_during_load_loses_no_acknowledged_record(database: Database,
                                                          tmp_path: Path) -> None:
    config = make_config()
    accounts = Accounts(database, config)
    user = accounts.create_user(accounts.create_org("Load"), "Load user")
    accounts.mark_verified(user, "test", "e-1")
    _, key = accounts.issue_key(user, rate_limit_per_min=1_000_000)
    process, url = _start(database.url.render_as_string(hide_password=False), tmp_path)

    received: list[Received] = []
    lock = threading.Lock()
    killed = threading.Event()

    def one(i: int) -> None:
        if killed.is_set():
            return
        streamed = i % 4 == 0
        body = {"model": MODEL, "stream": streamed,
                "messages": [{"role": "user", "content": f"request {i}"}]}
        try:
            with httpx.Client(timeout=30) as client:
                response = client.post(f"{url}/v1/chat/completions", json=body,
                                       headers={"Authorization": f"Bearer {key}"})
                text = (_text_of(response.text) if streamed
                        else response.json()["choices"][0]["message"]["content"])
        except (httpx.TransportError, ValueError, KeyError):
            return  # the kill cut this one off: no complete response, nothing promised
        if text is None:
            return
        with lock:
            received.append(Received(response.headers["x-synthguard-record-id"],
                                     response.status_code, streamed, text))
            if len(received) == KILL_AFTER:
                process.send_signal(signal.SIGKILL)
                killed.set()

    try:
        with ThreadPoolExecutor(WORKERS) as pool:
            list(pool.map(one, range(REQUESTS)))
    finally:
        process.kill()
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert len(received) >= KILL_AFTER

    # Read the database afresh, as a restarted gateway would.
    database.dispose()
    fresh = Database(database.url.render_as_string(hide_password=False))
    try:
        records = Records(fresh)
        for got in received:
            record = records.get(got.record_id)
            assert record is not None, f"response received but record {got.record_id} lost"
            assert got.status == 200 and record.status == "ok"
            assert record.output_digest == canonical_digest(got.text)
            assert record.output_review is not None
            assert record.output_review["mode"] == ("stream" if got.streamed else "whole")
    finally:
        fresh.dispose()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # httpx would route loopback through a proxy named in the environment.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
