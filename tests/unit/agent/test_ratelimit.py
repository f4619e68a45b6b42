"""The status write budget of the agent (a token bucket)."""

from __future__ import annotations

import pytest
from fornax_agent.ratelimit import TokenBucket


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
