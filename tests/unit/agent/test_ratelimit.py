"""The status write budget of the agent (a token bucket)."""

from __future__ import annotations

import pytest
from fornax_agent.ratelimit import Backoff, TokenBucket


def test_a_full_bucket_allows_a_burst_then_says_how_long_to_wait():
    bucket = TokenBucket(rate=10.0, burst=3)
    assert [bucket.take() for _attempt in range(3)] == [0.0, 0.0, 0.0]
    wait = bucket.take()
    assert 0.0 < wait <= 0.1
    assert bucket.wait() > 0.0


def test_waiting_takes_nothing():
    bucket = TokenBucket(rate=1.0, burst=1)
    assert bucket.wait() == 0.0
    assert bucket.wait() == 0.0
    assert bucket.take() == 0.0
    assert bucket.take() > 0.0


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1), (-1.0, 5), (5.0, 0)])
def test_a_bucket_that_could_never_give_a_token_is_refused(rate, burst):
    with pytest.raises(ValueError, match="token bucket"):
        TokenBucket(rate, burst)


def test_backoff_doubles_up_to_its_cap_per_key():
    backoff = Backoff(base=0.5, cap=4.0, jitter=0.25, uniform=lambda low, high: high)
    assert [backoff.next("m") for _attempt in range(6)] == [0.625, 1.25, 2.5, 4.0, 4.0, 4.0]
    assert backoff.next("other") == 0.625, "each key has its own count"
    backoff.reset("m")
    assert backoff.count("m") == 0
    assert backoff.next("m") == 0.625


def test_backoff_spreads_retries():
    backoff = Backoff(base=1.0, cap=60.0, jitter=0.5)
    delays = {round(backoff.next(i), 6) for i in range(50)}
    assert len(delays) > 10 and all(0.5 <= d <= 1.5 for d in delays)


@pytest.mark.parametrize(("base", "cap", "jitter"), [(0.0, 1.0, 0.1), (2.0, 1.0, 0.1), (1, 2, 1.0)])
def test_a_backoff_that_makes_no_sense_is_refused(base, cap, jitter):
    with pytest.raises(ValueError, match="backoff"):
        Backoff(base, cap, jitter)
