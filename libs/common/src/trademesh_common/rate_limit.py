"""Rate limits kept in Redis, shared by every replica of a service.

The generic cell rate algorithm (GCRA): one key per limited subject holds the
"theoretical arrival time" of its next request. A limit of N per period allows a
burst of N and then one request every period/N; a refused request learns exactly
how long to wait. The check runs as one Lua script on Redis's own clock, so
replicas with skewed clocks agree and two requests can never both take the last slot.
"""

import math
from dataclasses import dataclass

from redis.asyncio import Redis

_GCRA = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allowed_at = tat - (burst - 1) * interval
if now < allowed_at then
  return allowed_at - now
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000))
return 0
"""


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most `count` requests per `period_seconds`, all of them allowed at once."""

    count: int
    period_seconds: float

    def __post_init__(self) -> None:
        if self.count < 1 or self.period_seconds <= 0:
            raise ValueError("a rate limit needs count >= 1 and a positive period")

    @property
    def interval_us(self) -> int:
        return max(1, round(self.period_seconds * 1_000_000 / self.count))


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    retry_after_seconds: float

    @property
    def retry_after_header(self) -> str:
        """The wait as HTTP's Retry-After wants it: whole seconds, rounded up."""
        return str(max(1, math.ceil(self.retry_after_seconds)))


class RedisRateLimiter:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_GCRA)

    async def acquire(self, subject: str, limit: RateLimit) -> Decision:
        """Takes one slot for `subject` if the limit allows it now."""
        wait_us = await self._script(
            keys=[f"{self._prefix}:{subject}"], args=[limit.interval_us, limit.count]
        )
        wait = int(wait_us)
        return Decision(allowed=wait == 0, retry_after_seconds=wait / 1_000_000)
