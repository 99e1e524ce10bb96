"""The social service's parts wired together: database, Redis, gRPC server.

`SocialApp` starts and stops them in order; `__main__` runs it inside the shared
ServiceRuntime, and the integration tests run it in-process.
"""

import logging

import asyncpg
from redis.asyncio import Redis

from trademesh.social.v1 import social_pb2_grpc
from trademesh_common.db import create_pool, migrate, pool_ready_check
from trademesh_common.health import Health
from trademesh_common.rate_limit import RedisRateLimiter
from trademesh_common.rpc import GrpcServer
from trademesh_social.feed import SocialFeed
from trademesh_social.live import LivePublisher
from trademesh_social.service import SocialServicer
from trademesh_social.settings import SocialSettings

log = logging.getLogger(__name__)

MIGRATIONS_PACKAGE = "trademesh_social.migrations"
GRPC_STOP_GRACE_SECONDS = 5.0
RATE_LIMIT_PREFIX = "social:rate"


class SocialApp:
    def __init__(self, settings: SocialSettings, health: Health) -> None:
        self._settings = settings
        self._health = health
        self._pool: asyncpg.Pool | None = None
        self._redis: Redis | None = None
        self._grpc: GrpcServer | None = None

    @property
    def grpc_port(self) -> int:
        assert self._grpc is not None, "start() first"
        return self._grpc.port

    async def start(self) -> None:
        settings = self._settings
        applied = await migrate(settings.postgres_dsn, MIGRATIONS_PACKAGE)
        log.info("database migrated", extra={"applied": applied})
        self._pool = pool = await create_pool(settings.postgres_dsn)
        self._redis = redis = Redis.from_url(settings.redis_url)
        feed = SocialFeed(
            pool, RedisRateLimiter(redis, RATE_LIMIT_PREFIX), LivePublisher(redis), settings
        )
        self._grpc = GrpcServer(settings.grpc_host, settings.grpc_port, settings.tls)
        social_pb2_grpc.add_SocialServiceServicer_to_server(SocialServicer(feed), self._grpc.server)
        await self._grpc.start()

        async def redis_ready() -> bool:
            return bool(await redis.ping())

        self._health.add_check("postgres", pool_ready_check(pool))
        self._health.add_check("redis", redis_ready)
        log.info("social service ready", extra={"grpc_port": self.grpc_port})

    async def stop(self) -> None:
        if self._grpc is not None:
            await self._grpc.stop(GRPC_STOP_GRACE_SECONDS)
        if self._redis is not None:
            await self._redis.aclose()
        if self._pool is not None:
            await self._pool.close()
        log.info("social service stopped")
