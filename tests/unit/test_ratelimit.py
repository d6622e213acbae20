"""gateway.ratelimit on the in-process store with a fake clock: windows, Retry-After, checks and records."""

from __future__ import annotations

import pytest

from gateway.errors import RateLimited
from gateway.ratelimit import Limit
from gateway.ratelimit import RateLimiter
from gateway.store.memory_store import MemoryStore


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_hit_refuses_beyond_the_limit_until_the_window_ends() -> None:
    clock = Clock(6000.0 + 45.5)  # 45.5 s into a 60 s window
    limiter = RateLimiter(MemoryStore(), clock)
    limit = Limit("authorize", 3)
    for _ in range(3):
        limiter.hit(limit, "198.51.100.1")
    with pytest.raises(RateLimited) as refused:
        limiter.hit(limit, "198.51.100.1")
    assert refused.value.retry_after == 15
    limiter.hit(limit, "198.51.100.2")  # another caller has its own count
    clock.now = 6060.0  # the next window
    limiter.hit(limit, "198.51.100.1")


def test_check_and_record_count_failures_without_counting_successes() -> None:
    limiter = RateLimiter(MemoryStore(), Clock(300.0))
    failures = Limit("client-auth-failures", 2, window=300)
    limiter.check(failures, "rp\n198.51.100.1")
    limiter.record(failures, "rp\n198.51.100.1")
    limiter.check(failures, "rp\n198.51.100.1")
    limiter.record(failures, "rp\n198.51.100.1")
    with pytest.raises(RateLimited) as refused:
        limiter.check(failures, "rp\n198.51.100.1")
    assert refused.value.retry_after == 300
    limiter.check(failures, "other-rp\n198.51.100.1")


def test_zero_turns_a_limit_off() -> None:
    limiter = RateLimiter(MemoryStore(), Clock(0.0))
    for _ in range(100):
        limiter.hit(Limit("authorize", 0), "198.51.100.1")
