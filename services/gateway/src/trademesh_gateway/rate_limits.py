"""Fixed-window rate limits counted in Redis, shared by every gateway replica.

One INCR (with the EXPIRE on a window's first hit, in one script) per request and key.
Fixed windows allow a burst of up to twice the limit across a window boundary; that is accepted
for its cost of one Redis round trip and one key per client per window.

Redis being down must not take the API down with it: the limiter then lets requests
through (logging at most once a minute) -- it protects capacity, it is not what
keeps accounts safe (argon2id and token checks are).
"""

import logging
import math
import time
from collections.abc import Callable

import redis.asyncio as redis
from redis.exceptions import RedisError
from starlette.types import ASGIApp, Receive, Scope, Send

from trademesh_gateway.errors import error_response

log = logging.getLogger(__name__)

_KEY_PREFIX = "ratelimit"
_ERROR_LOG_INTERVAL_SECONDS = 60.0
# One EVALSHA instead of an INCR + EXPIRE pipeline: the same single round trip, with
# far less client work per request (redis-py's pipelines are costly in Python).
_COUNT_HIT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return count
"""


class RateLimited(Exception):
    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"retry after {retry_after_seconds}s")
        self.retry_after_seconds = retry_after_seconds


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
        self._count_hit = client.register_script(_COUNT_HIT)

    async def hit(self, subject: str, limit: int) -> None:
        """Counts one request for `subject`; RateLimited when it is over `limit`."""
        now = self._clock()
        window = int(now // self._window)
        key = f"{_KEY_PREFIX}:{subject}:{window}"
        try:
            count = await self._count_hit(keys=[key], args=[self._window + 1])
        except (RedisError, OSError) as error:
            if time.monotonic() - self._last_error_log >= _ERROR_LOG_INTERVAL_SECONDS:
                self._last_error_log = time.monotonic()
                log.warning("rate limiter unavailable; not limiting", extra={"error": repr(error)})
            return
        if count > limit:
            window_end = (window + 1) * self._window
            raise RateLimited(max(1, math.ceil(window_end - now)))

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
        for subject, limit, what in checks:
            try:
                await self._limiter.hit(subject, limit)
            except RateLimited as limited:
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
