"""Fixed-window rate limits counted in Redis, shared by every gateway replica.

An INCRBY per key (with the EXPIRE on a window's first hit), in one script call: the keys
a request counts against at once (its address, and its address on `/auth/*`) share it,
and so do the requests that arrive while the previous call is out -- at most one call per
process is in flight, and the next carries everything counted meanwhile. Each request
still gets a count of its own (the batch's new total minus the hits queued after it), so
the limits are as exact as one INCR per request, for far fewer round trips under load.
Fixed windows allow a burst of up to twice the limit across a window boundary; that is accepted
for its cost of one Redis round trip and one key per client per window.

Redis being down must not take the API down with it: the limiter then lets requests
through (logging at most once a minute) -- it protects capacity, it is not what
keeps accounts safe (argon2id and token checks are).
"""

import asyncio
import hashlib
import logging
import math
import time
from collections.abc import Callable, Sequence

import redis.asyncio as redis
from redis.exceptions import NoScriptError, RedisError
from starlette.types import ASGIApp, Receive, Scope, Send

from trademesh_gateway.errors import error_response

log = logging.getLogger(__name__)

_KEY_PREFIX = "ratelimit"
_ERROR_LOG_INTERVAL_SECONDS = 60.0
# One EVALSHA instead of an INCR + EXPIRE pipeline: the same single round trip, with
# far less client work per request (redis-py's pipelines are costly in Python). Every
# key is counted, even past one already over its limit: the client is refused either way.
_COUNT_HITS = """
local counts = {}
for i, key in ipairs(KEYS) do
  local amount = tonumber(ARGV[i + 1])
  local count = redis.call('INCRBY', key, amount)
  if count == amount then
    redis.call('EXPIRE', key, ARGV[1])
  end
  counts[i] = count
end
return counts
"""
_COUNT_HITS_SHA = hashlib.sha1(_COUNT_HITS.encode()).hexdigest()


class RateLimited(Exception):
    def __init__(self, retry_after_seconds: int, index: int = 0) -> None:
        super().__init__(f"retry after {retry_after_seconds}s")
        self.retry_after_seconds = retry_after_seconds
        # Which of the checks given to `hit_all` was over its limit.
        self.index = index


class _Batch:
    """Hits queued for the next script call: key -> how many."""

    __slots__ = ("amounts", "totals")

    def __init__(self) -> None:
        self.amounts: dict[str, int] = {}
        # Resolves to key -> the count after the batch (or the call's error).
        self.totals: asyncio.Future[dict[str, int]] = asyncio.get_running_loop().create_future()


class RateLimiter:
    def __init__(
        self,
        client: redis.Redis,
        window_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = client
        self._window = window_seconds
        self._clock = clock
        self._last_error_log = -math.inf
        self._queued: _Batch | None = None
        self._sender: asyncio.Task[None] | None = None

    async def hit(self, subject: str, limit: int) -> None:
        """Counts one request for `subject`; RateLimited when it is over `limit`."""
        await self.hit_all(((subject, limit),))

    async def hit_all(self, checks: Sequence[tuple[str, int]]) -> None:
        """Counts one request against each (subject, limit), in one round trip;
        RateLimited (with the check's index) for the first that is over its limit."""
        now = self._clock()
        window = int(now // self._window)
        batch = self._queued
        if batch is None:
            batch = self._queued = _Batch()
            if self._sender is None:
                self._sender = asyncio.ensure_future(self._send_batches())
        amounts = batch.amounts
        keys = []
        for subject, _ in checks:
            key = f"{_KEY_PREFIX}:{subject}:{window}"
            amounts[key] = amounts.get(key, 0) + 1
            keys.append((key, amounts[key]))  # this hit is the key's n-th in the batch
        try:
            # Shielded: one caller giving up must not cancel the others' answer.
            totals = await asyncio.shield(batch.totals)
        except (RedisError, OSError) as error:
            if time.monotonic() - self._last_error_log >= _ERROR_LOG_INTERVAL_SECONDS:
                self._last_error_log = time.monotonic()
                log.warning("rate limiter unavailable; not limiting", extra={"error": repr(error)})
            return
        for index, ((_, limit), (key, nth)) in enumerate(zip(checks, keys, strict=True)):
            if totals[key] - amounts[key] + nth > limit:
                window_end = (window + 1) * self._window
                raise RateLimited(max(1, math.ceil(window_end - now)), index)

    async def _send_batches(self) -> None:
        """Sends the queued batch, and again while hits queued up during the call."""
        batch: _Batch | None = None
        try:
            while (batch := self._queued) is not None:
                self._queued = None
                try:
                    counts = await self._count(batch.amounts)
                except Exception as error:  # every waiter gets it (and lets its request by)
                    batch.totals.set_exception(error)
                    # Retrieved here too: every waiter may have given up already.
                    batch.totals.exception()
                    continue
                batch.totals.set_result(dict(zip(batch.amounts, counts, strict=True)))
        finally:
            # Cancelled (the loop is shutting down): nobody is left to send for the waiters.
            for unsent in (batch, self._queued):
                if unsent is not None and not unsent.totals.done():
                    unsent.totals.cancel()
            self._sender = None

    async def _count(self, amounts: dict[str, int]) -> list[int]:
        # EVALSHA directly: redis-py's Script object spends as long again on an
        # isinstance check against a Protocol as the command takes to send.
        command = (
            "EVALSHA",
            _COUNT_HITS_SHA,
            len(amounts),
            *amounts,
            self._window + 1,
            *amounts.values(),
        )
        try:
            counts: list[int] = await self._redis.execute_command(*command)
        except NoScriptError:  # a fresh (or flushed) Redis: load it once, then by hash
            await self._redis.script_load(_COUNT_HITS)
            counts = await self._redis.execute_command(*command)
        return counts

    async def close(self) -> None:
        await self._redis.aclose()


def too_many_requests_message(what: str, limit: int, window_seconds: int) -> str:
    return f"rate limit exceeded: at most {limit} requests per {window_seconds}s {what}"


class PerIpRateLimitMiddleware:
    """Limits every request under `path_prefix` by client address (ops routes are exempt),
    and requests under `strict_prefix` by a second, lower limit of their own."""

    def __init__(
        self,
        app: ASGIApp,
        limiter: RateLimiter,
        limit: int,
        window_seconds: int,
        path_prefix: str,
        strict_prefix: str,
        strict_limit: int,
    ) -> None:
        self.app = app
        self._limiter = limiter
        self._limit = limit
        self._window = window_seconds
        self._prefix = path_prefix
        self._strict_prefix = strict_prefix
        self._strict_limit = strict_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self._prefix):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = client[0] if client else "unknown"
        checks = [(f"ip:{address}", self._limit, "per client address")]
        if scope["path"].startswith(self._strict_prefix):
            checks.append((f"auth-ip:{address}", self._strict_limit, "per client address here"))
        try:
            await self._limiter.hit_all([(subject, limit) for subject, limit, _ in checks])
        except RateLimited as limited:
            _, limit, what = checks[limited.index]
            response = error_response(
                scope,
                429,
                "resource_exhausted",
                too_many_requests_message(what, limit, self._window),
                {"Retry-After": str(limited.retry_after_seconds)},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
