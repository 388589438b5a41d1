"""The demo server: what it prints works when pasted into a shell."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from synthguard.explicit import DEFAULT_ZH
from synthguard.gateway.demo_setup import DEMO_RULE, prepare_demo
from tests.tools import require_tool


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _read_banner(process: subprocess.Popen[str], deadline: float) -> list[str]:
    """The lines the demo prints up to "Press Ctrl+C", read by a helper thread (a
    buffered pipe and select() do not mix)."""
    assert process.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    stdout = process.stdout
    threading.Thread(target=lambda: [lines.put(line.rstrip("\n")) for line in stdout],
                     daemon=True).start()
    banner: list[str] = []
    while not any(line.startswith("Press Ctrl+C") for line in banner):
        try:
            banner.append(lines.get(timeout=max(0.0, deadline - time.monotonic())))
        except queue.Empty:
            raise AssertionError(f"demo did not print its instructions: {banner}") from None
    return banner


def test_printed_curl_and_python_work_as_printed(tmp_path: Path) -> None:
    curl = require_tool("curl")
    port = _free_port()
    root = Path(__file__).resolve().parents[2]
    code = ("from pathlib import Path; from synthguard.gateway.demo_setup import "
            f"run_demo_server; run_demo_server(Path({str(tmp_path / 'var')!r}), port={port})")
    process = subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, text=True,
                               stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(root)})
    try:
        lines = _read_banner(process, time.monotonic() + 60)
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "demo server did not become ready"
                time.sleep(0.1)

        curl_line = next(line.strip() for line in lines if line.strip().startswith("curl "))
        assert curl_line.startswith("curl ")
        out = subprocess.run(["bash", "-c", curl_line.replace("curl ", f"{curl} ", 1)],
                             capture_output=True, text=True, check=True, timeout=60).stdout
        answer = json.loads(out)
        assert answer["choices"][0]["message"]["content"].startswith(DEFAULT_ZH)
        assert answer["synthguard"]["label"]["ProduceID"] == answer["synthguard"]["record_id"]

        start = next(i for i, line in enumerate(lines) if line.endswith("<<'EOF'"))
        end = lines.index("EOF", start)
        snippet = "\n".join(lines[start:end + 1])
        streamed = subprocess.run(["bash", "-c", snippet], capture_output=True, text=True,
                                  check=True, timeout=120, cwd=tmp_path).stdout
        assert streamed.startswith(DEFAULT_ZH) and len(streamed) > 100
        assert any(DEMO_RULE.pattern in line for line in lines)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert (tmp_path / "var" / "synthguard.db").exists()


def test_prepare_demo_starts_afresh(tmp_path: Path) -> None:
    first = prepare_demo(tmp_path)
    first.database.dispose()
    second = prepare_demo(tmp_path)
    try:
        from synthguard.accounts import Accounts

        accounts = Accounts(second.database, second.config)
        assert accounts.authenticate(first.api_key) is None  # old database is gone
        context = accounts.authenticate(second.api_key)
        assert context is not None and context.verified
        assert context.scopes == {"chat", "images", "audio"}
        assert second.config.review_rules == (DEMO_RULE,)
        # The secret survives restarts (it is a file), so keys hash the same way.
        assert first.config.secret == second.config.secret
    finally:
        second.database.dispose()
