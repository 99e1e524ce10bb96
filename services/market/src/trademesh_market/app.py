"""The market service's parts wired together: database, Redis, Kafka, gRPC server."""

import asyncio
import logging
from collections.abc import Callable

import asyncpg
import redis.asyncio as redis

from trademesh.market.v1 import market_pb2_grpc
from trademesh_common.background import BackgroundTasks
from trademesh_common.db import create_pool, migrate, pool_ready_check
from trademesh_common.health import Health
from trademesh_common.kafka import (
    AsyncBatchConsumer,
    AsyncProducer,
    consumer_config,
    producer_config,
)
from trademesh_common.rpc import GrpcServer
from trademesh_market import store
from trademesh_market.fundamentals.alpha_vantage import AlphaVantageProvider
from trademesh_market.fundamentals.provider import FundamentalsProvider
from trademesh_market.fundamentals.sample import SampleProvider
from trademesh_market.marketdata import CONSUMER_GROUP, MarketDataConsumer
from trademesh_market.service import MarketServicer
from trademesh_market.settings import MarketSettings

log = logging.getLogger(__name__)

MIGRATIONS_PACKAGE = "trademesh_market.migrations"
GRPC_STOP_GRACE_SECONDS = 5.0


def fundamentals_provider(settings: MarketSettings) -> FundamentalsProvider:
    if settings.fundamentals_provider == "alphavantage":
        return AlphaVantageProvider(settings.alphavantage_url, settings.alphavantage_api_key)
    return SampleProvider()


class MarketApp:
    def __init__(
        self,
        settings: MarketSettings,
        health: Health,
        on_fatal: Callable[[], None] | None = None,
    ) -> None:
        """`on_fatal` is called if a background task dies: the process should then stop."""
        self._settings = settings
        self._health = health
        self._background = BackgroundTasks(on_fatal)
        self._pool: asyncpg.Pool | None = None
        self._redis: redis.Redis | None = None
        self._producer: AsyncProducer | None = None
        self._consumer: AsyncBatchConsumer | None = None
        self._grpc: GrpcServer | None = None
        self._fundamentals: FundamentalsProvider | None = None

    @property
    def grpc_port(self) -> int:
        assert self._grpc is not None, "start() first"
        return self._grpc.port

    async def start(self) -> None:
        settings = self._settings
        applied = await migrate(settings.postgres_dsn, MIGRATIONS_PACKAGE)
        log.info("database migrated", extra={"applied": applied})
        self._pool = pool = await create_pool(settings.postgres_dsn)
        async with pool.acquire() as conn:
            # Listings change by migration (a deploy), so one read at start-up is enough.
            instruments = {i.symbol: i for i in await store.list_instruments(conn)}
        self._redis = client = redis.from_url(settings.redis_url)
        self._producer = producer = AsyncProducer(producer_config(settings.kafka_bootstrap))
        self._consumer = consumer = AsyncBatchConsumer(
            consumer_config(settings.kafka_bootstrap, CONSUMER_GROUP), [settings.marketdata_topic]
        )
        marketdata = MarketDataConsumer(
            consumer, producer, pool, client, instruments, settings.marketdata_topic
        )
        self._background.spawn("marketdata consumer", marketdata.run(self._background.stopping))

        self._fundamentals = fundamentals = fundamentals_provider(settings)
        self._grpc = GrpcServer(settings.grpc_host, settings.grpc_port, settings.tls)
        market_pb2_grpc.add_MarketServiceServicer_to_server(
            MarketServicer(pool, client, instruments, fundamentals), self._grpc.server
        )
        await self._grpc.start()

        async def redis_ready() -> bool:
            return bool(await client.ping())

        async def marketdata_assigned() -> bool:
            return marketdata.assigned

        self._health.add_check("postgres", pool_ready_check(pool))
        self._health.add_check("redis", redis_ready)
        self._health.add_check("kafka_consumer", marketdata_assigned)
        log.info("market service ready", extra={"grpc_port": self.grpc_port})

    async def stop(self) -> None:
        """Stops taking requests, then lets the consumer finish its batch, then closes."""
        if self._grpc is not None:
            await self._grpc.stop(GRPC_STOP_GRACE_SECONDS)
        await self._background.stop()
        if self._consumer is not None:
            await self._consumer.close()
        if self._producer is not None:
            await asyncio.to_thread(self._producer.close)
        if isinstance(self._fundamentals, AlphaVantageProvider):
            await self._fundamentals.close()
        if self._redis is not None:
            await self._redis.aclose()
        if self._pool is not None:
            await self._pool.close()
        log.info("market service stopped")
