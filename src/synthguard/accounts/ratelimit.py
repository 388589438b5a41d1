"""Per-key request rate limits, in process: a token bucket per API key.

Each bucket holds up to one minute's allowance and refills continuously, so a key may
burst to its per-minute limit and then runs at the steady rate. State lives in memory
(limits are per gateway process); the least recently used buckets are dropped when
there are too many keys, which only ever forgives, never wrongly refuses.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    remaining: int          # whole requests left right now
    retry_after_s: float    # 0 when allowed; else seconds until one request is available


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Thread-safe token buckets keyed by API key id."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 100_000) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, key_id: str, per_minute: int) -> RateDecision:
        """Take one request from `key_id`'s bucket if it has one."""
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        capacity = float(per_minute)
        rate = per_minute / 60.0
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(key_id)
            if bucket is None:
                bucket = _Bucket(capacity, now)
                self._buckets[key_id] = bucket
                if len(self._buckets) > self._max_keys:
                    self._buckets.popitem(last=False)
            else:
                self._buckets.move_to_end(key_id)
                # A clock that steps back must not mint tokens; a lowered limit caps them.
                elapsed = max(0.0, now - bucket.updated)
                bucket.tokens = min(capacity, bucket.tokens + elapsed * rate)
                bucket.updated = max(bucket.updated, now)
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return RateDecision(True, math.floor(bucket.tokens), 0.0)
            return RateDecision(False, 0, (1.0 - bucket.tokens) / rate)
