"""Gateway overhead: chat completions sent straight to a mock OpenAI-compatible upstream
vs the same requests through the SynthGuard gateway in front of it.

Everything runs on loopback on the same machine, pinned to two CPUs (the CI size): the
mock upstream (a tiny Starlette app answering at once), the gateway (its default
pipeline: key check, rate limit, account state, identity gate, rule review of input and
output, text notice, label header, durable SQLite record with synchronous=FULL), and the
client. Latency is measured one request at a time; requests per second with 16 requests
in flight. The gateway's own figure (`X-SynthGuard-Overhead-Ms`) is reported beside the
difference of the end-to-end medians.
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench._common import table

LATENCY_REQUESTS = 300
THROUGHPUT_REQUESTS = 600
CONCURRENCY = 16
STREAM_WORDS = 40
CPUS = 2
ANSWER = "The mock upstream answers every question with the same calm sentence. " * 2
MODEL = "mock-model"

UPSTREAM = f'''
import json
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

ANSWER = {ANSWER!r}
WORDS = ["w%d " % i for i in range({STREAM_WORDS})]

def chunk(delta, finish=None):
    body = {{"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
             "choices": [{{"index": 0, "delta": delta, "finish_reason": finish}}]}}
    return ("data: " + json.dumps(body) + "\\n\\n").encode()

async def chat(request: Request):
    body = await request.json()
    if body.get("stream"):
        async def events():
            yield chunk({{"role": "assistant", "content": ""}})
            for w in WORDS:
                yield chunk({{"content": w}})
            yield chunk({{}}, "stop")
            yield b"data: [DONE]\\n\\n"
        return StreamingResponse(events(), media_type="text/event-stream")
    return JSONResponse({{"id": "c", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{{"index": 0, "finish_reason": "stop",
                      "message": {{"role": "assistant", "content": ANSWER}}}}],
        "usage": {{"prompt_tokens": 5, "completion_tokens": 20, "total_tokens": 25}}}})

app = Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])
'''

GATEWAY = '''
import sys
from synthguard.gateway import create_app
from synthguard.store import Database
from bench.gateway_overhead import bench_config
import uvicorn
config = bench_config(sys.argv[1], sys.argv[2])
app = create_app(config, database=Database(config.database_url))
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[3]), log_level="warning",
            access_log=False)
'''


def bench_config(database_url: str, upstream_url: str) -> Any:
    from synthguard.config import BackendRoute, Config, ReviewRuleSpec
    from synthguard.demo import DEMO_USCC
    from synthguard.labels import provider_code

    return Config(database_url=database_url, secret=b"b" * 32,
                  producer_code=provider_code(DEMO_USCC, service="1", model_code="0001"),
                  backends={MODEL: BackendRoute(kind="openai", base_url=upstream_url,
                                                api_key="upstream-key")},
                  review_rules=tuple(ReviewRuleSpec(id=f"B-{i}", category="bench",
                                                    pattern=f"blockedword{i}")
                                     for i in range(20)))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpus() -> set[int]:
    available = sorted(os.sched_getaffinity(0))
    return set(available[:CPUS])


@contextmanager
def _process(args: list[str], url: str) -> Iterator[None]:
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(args, cwd=root, env={**os.environ, "PYTHONPATH": str(root)})
    os.sched_setaffinity(proc.pid, _cpus())
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"{args} did not start") from None
                time.sleep(0.05)
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _body(stream: bool) -> dict[str, Any]:
    return {"model": MODEL, "stream": stream,
            "messages": [{"role": "user", "content": "How far is the moon?"}]}


def _latencies(url: str, key: str, stream: bool) -> tuple[list[float], list[float]]:
    """Seconds per request one at a time, and the gateway's overhead header values."""
    times, overheads = [], []
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(timeout=30) as client:
        for i in range(LATENCY_REQUESTS + 20):
            start = time.perf_counter()
            response = client.post(f"{url}/v1/chat/completions", json=_body(stream),
                                   headers=headers)
            _ = response.content
            elapsed = time.perf_counter() - start
            if response.status_code != 200:
                raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")
            if i >= 20:  # warm-up
                times.append(elapsed)
                if "x-synthguard-overhead-ms" in response.headers:
                    overheads.append(float(response.headers["x-synthguard-overhead-ms"]))
    return times, overheads


async def _throughput(url: str, key: str, stream: bool) -> float:
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        queue = iter(range(THROUGHPUT_REQUESTS))

        async def worker() -> None:
            for _ in queue:
                response = await client.post(f"{url}/v1/chat/completions",
                                             json=_body(stream), headers=headers)
                if response.status_code != 200:
                    raise RuntimeError(f"HTTP {response.status_code}")
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return THROUGHPUT_REQUESTS / (time.perf_counter() - start)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def _issue_key(database_url: str, upstream_url: str) -> str:
    from synthguard.accounts import Accounts
    from synthguard.store import Database

    db = Database(database_url)
    db.migrate()
    accounts = Accounts(db, bench_config(database_url, upstream_url))
    user = accounts.create_user(accounts.create_org("Bench"), "Bench user")
    accounts.mark_verified(user, "bench", "bench")
    _, key = accounts.issue_key(user, rate_limit_per_min=1_000_000)
    db.dispose()
    return key


def _recorded_overheads(database_url: str, mode: str) -> list[float]:
    """The overhead each request's record holds (for streams this covers the whole stream,
    while the header can only cover what happened before the first byte)."""
    from synthguard.accounts import Records
    from synthguard.store import Database

    db = Database(database_url)
    try:
        return [r.overhead_ms for _, r in Records(db).after(0, limit=1_000_000)
                if r.overhead_ms is not None and r.output_review
                and r.output_review.get("mode") == mode]
    finally:
        db.dispose()


def run() -> str:
    os.sched_setaffinity(0, _cpus())
    with tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        up_port, gw_port = _free_port(), _free_port()
        upstream = f"http://127.0.0.1:{up_port}/v1"
        (Path(tmp) / "mock_upstream.py").write_text(UPSTREAM)
        key = _issue_key(database_url, upstream)
        rows: list[list[str]] = []
        with _process([sys.executable, "-m", "uvicorn", "--app-dir", tmp, "mock_upstream:app",
                       "--port", str(up_port), "--log-level", "warning", "--no-access-log"],
                      f"http://127.0.0.1:{up_port}/"), \
             _process([sys.executable, "-c", GATEWAY, database_url, upstream, str(gw_port)],
                      f"http://127.0.0.1:{gw_port}/healthz"):
            for stream in (False, True):
                kind = "streaming" if stream else "plain"
                mode = "stream" if stream else "whole"
                direct, _ = _latencies(upstream.removesuffix("/v1"), "upstream-key", stream)
                via, overheads = _latencies(f"http://127.0.0.1:{gw_port}", key, stream)
                recorded = _recorded_overheads(database_url, mode)  # the sequential ones
                direct_rps = asyncio.run(_throughput(upstream.removesuffix("/v1"), "k", stream))
                via_rps = asyncio.run(_throughput(f"http://127.0.0.1:{gw_port}", key, stream))
                rows.append([f"{kind} chat, direct", f"{_pct(direct, .5):.2f}",
                             f"{_pct(direct, .99):.2f}", f"{direct_rps:.0f}", "", "", ""])
                rows.append([f"{kind} chat, via gateway", f"{_pct(via, .5):.2f}",
                             f"{_pct(via, .99):.2f}", f"{via_rps:.0f}",
                             f"{_pct(via, .5) - _pct(direct, .5):.2f} / "
                             f"{_pct(via, .99) - _pct(direct, .99):.2f}",
                             f"{statistics.median(overheads):.2f}",
                             f"{statistics.median(recorded):.2f}"])
    header = ["Request", "p50 ms", "p99 ms", f"req/s ({CONCURRENCY} in flight)",
              "added p50 / p99 ms", "overhead header p50 ms", "recorded overhead p50 ms"]
    note = ("\n\nThe header is sent with the first byte, so for streams it covers admission "
            "only; the record's figure covers the whole stream (windows reviewed, notice) but "
            "is taken just before the record's own durable commit, which the header of a "
            f"plain answer includes.\n{LATENCY_REQUESTS} sequential requests per latency row, "
            f"{THROUGHPUT_REQUESTS} for throughput; streams carry {STREAM_WORDS} words. "
            f"All processes pinned to {CPUS} CPUs.")
    return table(header, rows) + note


if __name__ == "__main__":
    print(run())
