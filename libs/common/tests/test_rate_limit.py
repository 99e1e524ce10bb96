"""The Redis rate limiter on a real Redis."""

import asyncio
import uuid

import pytest
from redis.asyncio import Redis

from trademesh_common.rate_limit import RateLimit, RedisRateLimiter

pytestmark = pytest.mark.integration


@pytest.fixture
async def limiter(devstack):
    redis = Redis.from_url(devstack.env()["TRADEMESH_REDIS_URL"])
    yield RedisRateLimiter(redis, f"test:{uuid.uuid4().hex}")
    await redis.aclose()


async def test_a_burst_then_one_per_interval(limiter):
    limit = RateLimit(count=3, period_seconds=60)  # one slot every 20 s after the burst
    decisions = [await limiter.acquire("alice", limit) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert 19 < decisions[3].retry_after_seconds <= 20
    assert decisions[3].retry_after_header == "20"
    assert (await limiter.acquire("bob", limit)).allowed  # subjects are independent


async def test_concurrent_requests_never_exceed_the_limit(limiter):
    limit = RateLimit(count=5, period_seconds=60)
    decisions = await asyncio.gather(*(limiter.acquire("carol", limit) for _ in range(40)))
    assert sum(d.allowed for d in decisions) == 5


async def test_a_refused_request_may_retry_after_the_wait(limiter):
    limit = RateLimit(count=1, period_seconds=0.2)
    assert (await limiter.acquire("dave", limit)).allowed
    refused = await limiter.acquire("dave", limit)
    assert not refused.allowed and refused.retry_after_seconds <= 0.2
    await asyncio.sleep(refused.retry_after_seconds + 0.01)
    assert (await limiter.acquire("dave", limit)).allowed


def test_limits_must_be_positive():
    for count, period in ((0, 1), (1, 0), (-1, 5)):
        with pytest.raises(ValueError):
            RateLimit(count, period)
