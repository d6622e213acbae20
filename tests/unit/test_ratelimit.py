"""gateway.ratelimit on the in-process store with a fake clock: windows, Retry-After, checks and records."""

from __future__ import annotations

from collections.abc import Callable

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


@pytest.mark.parametrize(
    ("requests_limit", "failures_limit"), [(3, 2), (0, 2), (3, 0)], ids=["both", "requests-off", "failures-off"]
)
def test_hit_and_check_together_refuse_as_hit_then_check(requests_limit: int, failures_limit: int) -> None:
    """One round trip for the token endpoint's two limits, with the refusals of the two calls it replaces."""
    clock = Clock(600.0)
    together, apart = RateLimiter(MemoryStore(), clock), RateLimiter(MemoryStore(), clock)
    requests, failures = Limit("token", requests_limit), Limit("client-auth-failures", failures_limit, window=300)
    who, client = "198.51.100.1", "rp\n198.51.100.1"
    for limiter in (together, apart):
        for _ in range(failures_limit):
            limiter.record(failures, client)

    def outcome(call: Callable[[], None]) -> str | None:
        try:
            call()
        except RateLimited as refused:
            return f"{refused.limit}:{refused.retry_after}"
        return None

    def separately() -> None:
        apart.hit(requests, who)
        apart.check(failures, client)

    for _ in range(4):
        assert outcome(lambda: together.hit(requests, who, and_check=(failures, client))) == outcome(separately)


def test_a_request_over_its_limit_is_refused_for_that_limit_first() -> None:
    limiter = RateLimiter(MemoryStore(), Clock(600.0))
    requests, failures = Limit("token", 1), Limit("client-auth-failures", 1, window=300)
    limiter.record(failures, "rp\nx")
    with pytest.raises(RateLimited) as first:
        limiter.hit(requests, "x", and_check=(failures, "rp\nx"))
    assert first.value.limit == "client-auth-failures"
    with pytest.raises(RateLimited) as second:
        limiter.hit(requests, "x", and_check=(failures, "rp\nx"))
    assert second.value.limit == "token"
