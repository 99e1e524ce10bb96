"""Fixtures for the market service's integration tests: the service in-process against the
devstack's real PostgreSQL, Redis and Kafka, on a `marketdata` topic of its own."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import redis.asyncio as redis

from trademesh.events.v1 import marketdata_pb2
from trademesh.market.v1 import market_pb2_grpc
from trademesh_common.config import TlsSettings
from trademesh_common.health import Health
from trademesh_common.kafka import AsyncProducer, dead_letter_topic, producer_config
from trademesh_common.rpc import create_channel
from trademesh_market.app import MarketApp
from trademesh_market.settings import MarketSettings

WAIT_SECONDS = 30.0


@dataclass(frozen=True)
class MarketStack:
    dsn: str
    bootstrap: str
    redis_url: str
    topic: str


@pytest.fixture(scope="session")
def market_stack(devstack: Any) -> MarketStack:
    # Own database and topic: an attached devstack keeps other suites' marketdata around.
    suffix = uuid.uuid4().hex[:8]
    topic = f"marketdata-it-{suffix}"
    devstack.create_topics({topic: 2, dead_letter_topic(topic): 1})
    env = devstack.env()
    return MarketStack(
        dsn=devstack.create_database(f"market_it_{suffix}"),
        bootstrap=env["TRADEMESH_KAFKA_BOOTSTRAP"],
        redis_url=env["TRADEMESH_REDIS_URL"],
        topic=topic,
    )


async def wait_until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.fixture(scope="session")
async def market_app(market_stack: MarketStack) -> AsyncIterator[MarketApp]:
    settings = MarketSettings(
        postgres_dsn=market_stack.dsn,
        kafka_bootstrap=market_stack.bootstrap,
        redis_url=market_stack.redis_url,
        marketdata_topic=market_stack.topic,
        grpc_host="127.0.0.1",
        grpc_port=0,
    )
    health = Health()
    app = MarketApp(settings, health)
    await app.start()

    async def ready() -> bool:
        return all((await health.readiness()).values())

    try:
        await wait_until(ready, "the market service to be ready")
        yield app
    finally:
        await app.stop()


@pytest.fixture(scope="session")
async def market(market_app: MarketApp) -> AsyncIterator[market_pb2_grpc.MarketServiceStub]:
    channel = create_channel(f"127.0.0.1:{market_app.grpc_port}", TlsSettings())
    yield market_pb2_grpc.MarketServiceStub(channel)
    await channel.close()


@pytest.fixture(scope="session")
async def marketdata_producer(market_stack: MarketStack) -> AsyncIterator[AsyncProducer]:
    producer = AsyncProducer(producer_config(market_stack.bootstrap))
    yield producer
    await asyncio.to_thread(producer.close)


@pytest.fixture
async def redis_client(market_stack: MarketStack) -> AsyncIterator[redis.Redis]:
    client = redis.from_url(market_stack.redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def publish(
    market_stack: MarketStack, marketdata_producer: AsyncProducer
) -> Callable[..., Awaitable[None]]:
    """Sends marketdata events (or raw bytes) keyed by symbol, as matching does."""

    async def send(*events: marketdata_pb2.MarketDataEvent | tuple[str, bytes]) -> None:
        futures = []
        for event in events:
            if isinstance(event, tuple):
                key, value = event
            else:
                key, value = event.symbol, event.SerializeToString()
            futures.append(marketdata_producer.produce(market_stack.topic, key, value))
        await asyncio.gather(*futures)

    return send
