"""Timing and reporting helpers shared by the benchmarks."""

from __future__ import annotations

import multiprocessing
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

T = TypeVar("T")


def median_time(fn: Callable[[], object], *, runs: int = 5) -> float:
    """Median wall time of `runs` calls, in seconds (one untimed warm-up call first)."""
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, "
            f"{datetime.now(UTC).date().isoformat()}")


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def pool_map(fn: Callable[..., T], args: Sequence[tuple[Any, ...]], *,
             every: int = 100, start: str = "spawn") -> list[T]:
    """`fn(*a)` for every `a` in `args`, one process per core, in order, with progress on
    stderr every `every` results.

    The workers are spawned, not forked, with one BLAS thread each, set before they
    import numpy: forked workers inherit OpenBLAS threads already started, and with one
    worker per core those threads spin against the other worker's (the audio watermark
    benchmark's unmarked windows ran some 25 times slower, 2 h 30 min in all). `start`
    "fork" is for code that cannot run in a spawned worker."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = "1"
    results: list[T] = []
    if not args:
        return results
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1,
                             mp_context=multiprocessing.get_context(start)) as pool:
        for result in pool.map(fn, *zip(*args, strict=True), chunksize=4):
            results.append(result)
            if len(results) % every == 0 or len(results) == len(args):
                print(f"{fn.__name__}: {len(results)}/{len(args)}", file=sys.stderr, flush=True)
    return results
