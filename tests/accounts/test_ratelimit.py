"""RateLimiter: per-key token buckets, a minute's burst, steady refill."""

from __future__ import annotations

import threading

import pytest

from synthguard.accounts import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refusal_with_retry_after() -> None:
    clock = Clock()
    limiter = RateLimiter(clock)
    decisions = [limiter.check("key_a", 3) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions[:3]] == [2, 1, 0]
    assert decisions[3].retry_after_s == pytest.approx(20.0)  # 3/min: one every 20 s


def test_refill_is_continuous_and_capped() -> None:
    clock = Clock()
    limiter = RateLimiter(clock)
    for _ in range(60):
        assert limiter.check("key_a", 60).allowed
    assert not limiter.check("key_a", 60).allowed
    clock.now += 1.0
    assert limiter.check("key_a", 60).allowed
    assert not limiter.check("key_a", 60).allowed
    clock.now += 3600  # an idle hour refills one minute's worth, no more
    assert sum(limiter.check("key_a", 60).allowed for _ in range(100)) == 60


def test_keys_are_independent() -> None:
    limiter = RateLimiter(Clock())
    assert limiter.check("key_a", 1).allowed
    assert not limiter.check("key_a", 1).allowed
    assert limiter.check("key_b", 1).allowed


def test_a_lowered_limit_caps_saved_tokens() -> None:
    limiter = RateLimiter(Clock())
    assert limiter.check("key_a", 100).allowed
    assert sum(limiter.check("key_a", 2).allowed for _ in range(10)) == 2


def test_a_clock_stepping_back_mints_nothing() -> None:
    clock = Clock()
    limiter = RateLimiter(clock)
    assert limiter.check("key_a", 1).allowed
    clock.now -= 500
    assert not limiter.check("key_a", 1).allowed
    clock.now += 500
    assert not limiter.check("key_a", 1).allowed
    clock.now += 60
    assert limiter.check("key_a", 1).allowed


def test_eviction_only_forgives() -> None:
    limiter = RateLimiter(Clock(), max_keys=2)
    assert limiter.check("key_a", 1).allowed
    assert limiter.check("key_b", 1).allowed
    assert limiter.check("key_c", 1).allowed  # drops key_a's bucket, the least recent
    assert limiter.check("key_a", 1).allowed
    assert not limiter.check("key_c", 1).allowed


def test_threads_never_overspend() -> None:
    limiter = RateLimiter(Clock())
    allowed: list[bool] = []
    lock = threading.Lock()

    def hammer() -> None:
        mine = [limiter.check("key_a", 500).allowed for _ in range(200)]
        with lock:
            allowed.extend(mine)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(allowed) == 500 and len(allowed) == 1600


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RateLimiter().check("key_a", 0)
