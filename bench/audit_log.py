"""Audit log: durable appends per second, and proof generation time as the log grows.

Appends: gateway request records appended (alone, or, as the gateway does, inserted into
`request_records` in the same transaction as their leaf) with `synchronous=FULL` (SQLite, WAL) or a
normal commit (PostgreSQL), each append acknowledged only after its transaction
committed. Group commit (many concurrent callers, one transaction per batch) against
one commit per append, and against pymerkle's SQLite tree (the peer a user would pick:
one `append_entry`, one commit, per request). Figures are medians of 3 runs.

Proofs: a tree of 10^6 leaves is bulk-loaded (node hashes computed in memory, inserted
with executemany / COPY), then inclusion and consistency proofs are generated from the
stored node hashes at tree sizes 10^3 .. 10^6: O(log n) hashes read in one query. The
peer is pymerkle's SQLite tree over the same leaves, which derives subtree roots from
the leaves (first proof after a start: cold cache; then its in-memory cache).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from pymerkle import SqliteTree
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench._common import table
from synthguard.accounts.records import RequestRecord, new_record_id
from synthguard.audit import merkle
from synthguard.audit.canonical import record_entry
from synthguard.audit.log import AuditLog
from synthguard.store import Database

SECRET = bytes(range(32))
RUNS = 3
GROUPED = 5000  # records per group-commit run
SINGLE = 100  # records per one-commit-per-append run
CALLERS = (256, 1024)  # concurrent requests waiting for their commit
THREADS = 32
BIG = 1_000_000
SIZES = (1_000, 10_000, 100_000, 1_000_000)
PROOFS_PER_SIZE = 50
POSTGRES_ENV = ("SYNTHGUARD_BENCH_POSTGRES_URL", "SYNTHGUARD_TEST_POSTGRES_URL")


def _record(n: int) -> RequestRecord:
    return RequestRecord(
        id=new_record_id(), created_at=datetime.now(UTC), org_id="org_bench",
        user_id=f"usr_{n % 97}", key_id=f"key_{n % 97}", endpoint="/v1/chat/completions",
        model="bench-model", status="ok", input_digest=hashlib.sha256(b"%d" % n).hexdigest(),
        output_digest=hashlib.sha256(b"out%d" % n).hexdigest(),
        input_review={"reviewer": "rules", "decision": "allowed", "allowed": True,
                      "rule_ids": [], "category": None},
        output_review={"reviewer": "rules", "windows": 3, "allowed": True},
        labels={"implicit": {"fields": {"Label": "1"}, "carriers": ["header", "body"]}},
        enforcement={"state_before": "active", "state_after": "active", "changed": False},
        error_code=None, overhead_ms=2.5 + n % 10 / 10)


@contextmanager
def _postgres() -> Iterator[str | None]:
    """A fresh schema on the PostgreSQL server named by the environment, or None."""
    url = next((os.environ[name] for name in POSTGRES_ENV if os.environ.get(name)), None)
    if not url:
        yield None
        return
    base = make_url(url)
    schema = f"bench_{uuid.uuid4().hex}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


_cpu_per_append: list[float] = []  # process CPU seconds per append, every thread counted


def _rate(count: int, work: Callable[[], object]) -> float:
    start, cpu = time.perf_counter(), time.process_time()
    work()
    _cpu_per_append.append((time.process_time() - cpu) / count)
    return count / (time.perf_counter() - start)


def _grouped_async(log: AuditLog, callers: int, store: bool = False) -> float:
    records = [_record(n) for n in range(GROUPED)]

    async def main() -> None:
        queue = iter(records)

        async def caller() -> None:
            for record in queue:
                await log.append_async([record], store=store)

        await asyncio.gather(*(caller() for _ in range(callers)))

    return _rate(GROUPED, lambda: asyncio.run(main()))


def _append_each(log: AuditLog, records: list[RequestRecord]) -> None:
    for record in records:
        log.append([record])


def _grouped_threads(log: AuditLog) -> float:
    records = [_record(n) for n in range(GROUPED)]

    def work() -> None:
        threads = [threading.Thread(target=_append_each, args=(log, records[k::THREADS]))
                   for k in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    return _rate(GROUPED, work)


def _single(log: AuditLog) -> float:
    records = [_record(n) for n in range(SINGLE)]
    return _rate(SINGLE, lambda: [log.append([r]) for r in records])


def _pymerkle_single(folder: Path) -> float:
    tree = SqliteTree(str(folder / f"pymerkle-{uuid.uuid4().hex}.db"))
    entries = [record_entry(_record(n), SECRET) for n in range(SINGLE)]
    try:
        return _rate(SINGLE, lambda: [tree.append_entry(e) for e in entries])
    finally:
        tree.close()


def _median_rate(measure: Callable[[], float]) -> tuple[float, list[float]]:
    rates = [measure() for _ in range(RUNS)]
    return statistics.median(rates), rates


def _appends(folder: Path) -> str:
    rows: list[list[str]] = []

    def add(backend: str, mode: str, log: AuditLog | None, measure: Callable[[], float],
            baseline: float | None) -> float:
        before = log.commits if log else 0
        _cpu_per_append.clear()
        rate, _ = _median_rate(measure)
        cpu_us = statistics.median(_cpu_per_append) * 1e6
        batch = ""
        if log is not None:
            committed = (GROUPED if "group" in mode else SINGLE) * RUNS
            batch = f"{committed / max(1, log.commits - before):.1f}"
        ratio = f"{rate / baseline:.1f}x" if baseline else "1.0x"
        rows.append([backend, mode, f"{rate:,.0f}", batch or "1", ratio, f"{cpu_us:.0f}"])
        return rate

    with _postgres() as pg_url:
        urls = [("SQLite (WAL, synchronous=FULL)", f"sqlite:///{folder / 'appends.db'}")]
        if pg_url:
            urls.append(("PostgreSQL 15", pg_url))
        for backend, url in urls:
            db = Database(url)
            db.migrate()
            log = AuditLog(db, SECRET)
            base = add(backend, "one commit per append, 1 caller", log, partial(_single, log),
                       None)
            if backend.startswith("SQLite"):
                add(backend, "pymerkle SqliteTree.append_entry, 1 caller", None,
                    partial(_pymerkle_single, folder), base)
            add(backend, f"group commit, {THREADS} threads", log,
                partial(_grouped_threads, log), base)
            for callers in CALLERS:
                add(backend, f"group commit, {callers} async callers", log,
                    partial(_grouped_async, log, callers), base)
            # What the gateway does: the request record and its leaf in one transaction.
            add(backend, f"group commit of record + leaf (gateway), {CALLERS[-1]} async callers",
                log, partial(_grouped_async, log, CALLERS[-1], True), base)
            db.dispose()
    note = "" if any(r[0].startswith("PostgreSQL") for r in rows) else (
        "\n\nPostgreSQL: not measured (set SYNTHGUARD_BENCH_POSTGRES_URL).")
    return ("### Durable appends per second\n\n"
            + table(["Backend", "Appends", "Appends/s", "Records per commit",
                     "vs one commit per append", "CPU µs per append"], rows) + note)


def _bulk_tree(count: int) -> merkle.MemoryTree:
    leaves = b"".join(merkle.leaf_hash(b"record %d" % i) for i in range(count))
    return merkle.MemoryTree.from_leaf_hashes(leaves)


def _load(db: Database, tree: merkle.MemoryTree) -> None:
    """Store every complete subtree hash and the head, as appends would have."""
    rows = [(level, i, bytes(nodes[i * 32:(i + 1) * 32]))
            for level, nodes in enumerate(tree.levels) for i in range(len(nodes) // 32)]
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        if db.is_sqlite:
            cursor.execute("BEGIN IMMEDIATE")
            cursor.executemany("INSERT INTO audit_nodes (level, idx, hash) VALUES (?, ?, ?)",
                               rows)
            cursor.execute("INSERT INTO audit_head (id, size, ingested_seq) VALUES (1, ?, 0)",
                           (tree.size,))
            cursor.execute("COMMIT")
        else:
            with cursor.connection.cursor().copy(
                    "COPY audit_nodes (level, idx, hash) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute("INSERT INTO audit_head (id, size, ingested_seq) VALUES (1, %s, 0)",
                           (tree.size,))
            raw.commit()
    finally:
        raw.close()


def _time_each(fn: Callable[[int], object], arguments: list[int]) -> float:
    """Median milliseconds of `fn(a)` over the arguments."""
    times = []
    for argument in arguments:
        start = time.perf_counter()
        fn(argument)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _proofs(folder: Path) -> str:
    rng = random.Random(7)
    started = time.perf_counter()
    tree = _bulk_tree(BIG)
    build_s = time.perf_counter() - started
    columns: dict[str, dict[int, str]] = {}
    with _postgres() as pg_url:
        urls = [("SQLite", f"sqlite:///{folder / 'proofs.db'}")]
        if pg_url:
            urls.append(("PostgreSQL", pg_url))
        for name, url in urls:
            db = Database(url)
            db.migrate()
            _load(db, tree)
            log = AuditLog(db, SECRET)
            for size in SIZES:
                picks = [rng.randrange(size) for _ in range(PROOFS_PER_SIZE)]
                firsts = [rng.randrange(1, size) for _ in range(PROOFS_PER_SIZE)]
                inclusion = _time_each(partial(log.inclusion_proof, size=size), picks)
                consistency = _time_each(partial(log.consistency_proof, second=size), firsts)
                proof = log.inclusion_proof(picks[0], size)
                assert merkle.verify_inclusion(picks[0], size, tree.node((0, picks[0])), proof,
                                               tree.root(size))
                columns.setdefault(f"{name}: inclusion ms", {})[size] = f"{inclusion:.2f}"
                columns.setdefault(f"{name}: consistency ms", {})[size] = f"{consistency:.2f}"
            db.dispose()
    columns.update(_pymerkle_proofs(folder, rng))
    rows = [[f"{size:,}", f"{size.bit_length() - 1}", str(len(merkle.inclusion_ranges(0, size)))]
            + [columns[c].get(size, "-") for c in columns] for size in SIZES]
    return ("### Proof generation from stored node hashes\n\n"
            f"Tree of {BIG:,} leaves built in memory in {build_s:.1f} s, then bulk-loaded. "
            f"Medians of {PROOFS_PER_SIZE} proofs for random leaves (and random earlier sizes) "
            "at each tree size, each proof a fresh read of the database.\n\n"
            + table(["Leaves", "log2 n", "Inclusion proof hashes", *columns], rows))


def _pymerkle_proofs(folder: Path, rng: random.Random) -> dict[str, dict[int, str]]:
    tree = SqliteTree(str(folder / "pymerkle-proofs.db"))
    try:
        tree.append_entries(b"record %d" % i for i in range(BIG))
        cold: dict[int, str] = {}
        warm: dict[int, str] = {}
        for size in SIZES:
            tree.cache_clear()  # as after a restart
            prove = partial(tree.prove_inclusion, size=size)  # pymerkle counts from 1
            cold[size] = f"{_time_each(prove, [rng.randrange(size) + 1]):.1f}"
            picks = [rng.randrange(size) + 1 for _ in range(PROOFS_PER_SIZE)]
            warm[size] = f"{_time_each(prove, picks):.2f}"
        return {"pymerkle SqliteTree: first inclusion ms (cold)": cold,
                "pymerkle: inclusion ms (warm cache)": warm}
    finally:
        tree.close()


def run() -> str:
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as work:
        folder = Path(work)
        body = _appends(folder) + "\n\n" + _proofs(folder)
    return (f"Load average at start {load:.1f}, at end {os.getloadavg()[0]:.1f} "
            f"({os.cpu_count()} CPUs): durable appends are fsync- and CPU-bound, so a busy "
            "machine lowers every figure; CPU per append is the steadier one.\n\n" + body)


if __name__ == "__main__":
    print(run())
