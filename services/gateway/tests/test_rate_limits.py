"""Rate limits per client address and per user, counted in a real Redis."""

import asyncio

import pytest
import redis.asyncio as redis

from trademesh_gateway.rate_limits import RateLimited, RateLimiter


async def test_per_ip_limit_answers_429_with_retry_after(gateway_for):
    async with gateway_for(rate_limit_per_ip=3, rate_limit_window_seconds=60) as gateway:
        answers = [await gateway.client.get("/api/v1/market/ACME/book") for _ in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    limited = answers[-1]
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.json()["error"] == {
        "code": "resource_exhausted",
        "message": "rate limit exceeded: at most 3 requests per 60s per client address",
        "request_id": limited.headers["x-request-id"],
    }


async def test_auth_routes_have_a_stricter_per_ip_limit(gateway_for):
    credentials = {"username": "alice", "password": "guess"}
    async with gateway_for(rate_limit_auth_per_ip=2, rate_limit_per_ip=100) as gateway:
        logins = [
            (await gateway.client.post("/api/v1/auth/login", json=credentials)).status_code
            for _ in range(3)
        ]
        book = await gateway.client.get("/api/v1/market/ACME/book")

    assert logins == [200, 200, 429]
    assert book.status_code == 200  # the rest of the API is not affected


async def test_ops_routes_are_not_rate_limited(gateway_for):
    async with gateway_for(rate_limit_per_ip=1) as gateway:
        statuses = {(await gateway.client.get("/healthz")).status_code for _ in range(3)}

    assert statuses == {200}


async def test_per_user_limit_counts_each_user_apart(gateway_for, mint):
    async with gateway_for(rate_limit_per_user=2, rate_limit_window_seconds=30) as gateway:
        alice = [
            (await gateway.client.get("/api/v1/me", headers=mint.headers("alice"))).status_code
            for _ in range(3)
        ]
        limited = await gateway.client.get("/api/v1/me", headers=mint.headers("alice"))
        bob = await gateway.client.get("/api/v1/me", headers=mint.headers("bob"))

    assert alice == [200, 200, 429]
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 30
    assert limited.json()["error"]["message"] == (
        "rate limit exceeded: at most 2 requests per 30s per user"
    )
    assert bob.status_code == 200


async def test_a_new_window_starts_a_new_count(redis_url):
    now = [1_000.0]
    limiter = RateLimiter(redis.Redis.from_url(redis_url), 10, clock=lambda: now[0])
    subject = f"test-window-{id(now)}"
    await limiter.hit(subject, 1)
    with pytest.raises(RateLimited) as limited:
        await limiter.hit(subject, 1)
    assert limited.value.retry_after_seconds == 10  # 1000 is the start of a window
    now[0] = 1_010.0
    await limiter.hit(subject, 1)
    await limiter.close()


async def test_without_redis_requests_are_let_through(gateway_for):
    # Nothing listens on port 1: every count fails, and the API stays up.
    async with gateway_for(redis_url="redis://127.0.0.1:1/0", rate_limit_per_ip=1) as gateway:
        statuses = [
            (await gateway.client.get("/api/v1/market/ACME/book")).status_code for _ in range(3)
        ]

    assert statuses == [200, 200, 200]


async def test_several_keys_are_counted_in_one_call_and_the_first_over_is_named(redis_url):
    client = redis.Redis.from_url(redis_url)
    await client.script_flush()  # the script is loaded again on first use
    limiter = RateLimiter(client, 60, clock=lambda: 6_000.0)
    wide, narrow = f"test-wide-{id(client)}", f"test-narrow-{id(client)}"
    await limiter.hit_all([(wide, 5), (narrow, 2)])
    await limiter.hit_all([(wide, 5), (narrow, 2)])
    with pytest.raises(RateLimited) as limited:
        await limiter.hit_all([(wide, 5), (narrow, 2)])
    assert limited.value.index == 1
    with pytest.raises(RateLimited) as limited:
        await limiter.hit_all([(wide, 3), (narrow, 2)])
    assert limited.value.index == 0
    # Both keys counted every time, each expiring after its window.
    assert [int(await client.get(f"ratelimit:{s}:100")) for s in (wide, narrow)] == [4, 4]
    assert 0 < await client.ttl(f"ratelimit:{narrow}:100") <= 61
    await limiter.close()


async def test_concurrent_hits_share_calls_and_still_count_exactly(redis_url):
    client = redis.Redis.from_url(redis_url)
    limiter = RateLimiter(client, 60, clock=lambda: 6_000.0)
    subject = f"test-burst-{id(client)}"
    calls_before = await evalsha_calls(client)

    outcomes = await asyncio.gather(
        *(limiter.hit(subject, 15) for _ in range(20)), return_exceptions=True
    )

    assert [isinstance(o, RateLimited) for o in outcomes] == [False] * 15 + [True] * 5
    assert int(await client.get(f"ratelimit:{subject}:100")) == 20
    # The first hit's call goes out alone; the 19 queued meanwhile share the next.
    assert await evalsha_calls(client) - calls_before <= 2
    await limiter.close()


async def test_a_failed_call_lets_every_request_of_its_batch_through():
    limiter = RateLimiter(redis.Redis(port=1), 60)
    await asyncio.gather(*(limiter.hit("anyone", 1) for _ in range(5)))
    await limiter.close()


async def evalsha_calls(client: redis.Redis) -> int:
    stats = await client.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))
