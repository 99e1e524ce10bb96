"""Fixtures for the order service's integration tests: the service running in-process against
the devstack's real PostgreSQL and Kafka, a gRPC stub, and taps on its Kafka topics."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from confluent_kafka import Message

from trademesh.events.v1 import executions_pb2
from trademesh.order.v1 import order_pb2, order_pb2_grpc
from trademesh_common.config import TlsSettings
from trademesh_common.health import Health
from trademesh_common.kafka import (
    AsyncBatchConsumer,
    AsyncProducer,
    Topics,
    consumer_config,
    dead_letter_topic,
    producer_config,
)
from trademesh_common.rpc import create_channel
from trademesh_order.app import OrderApp
from trademesh_order.settings import OrderSettings

# The `devstack` fixture comes from trademesh_devstack.pytest_plugin, registered by the
# repository's root conftest.py: pytest refuses `pytest_plugins` in a nested conftest when
# it runs from the root.

STARTING_CASH = Decimal("100000")
STARTING_POSITIONS = "AAPL:1000,MSFT:500"
# The same partition counts as the devstack's mesh: create_topics refuses to shrink a topic.
TOPIC_PARTITIONS = {
    Topics.ORDERS: 4,
    Topics.EXECUTIONS: 4,
    dead_letter_topic(Topics.EXECUTIONS): 1,
    Topics.ORDER_UPDATES: 4,
}
WAIT_SECONDS = 30.0


@dataclass(frozen=True)
class OrderStack:
    dsn: str
    bootstrap: str


@pytest.fixture(scope="session")
def order_stack(devstack: Any) -> OrderStack:
    # A database of its own per session: an attached, long-lived devstack keeps old ones.
    dsn = devstack.create_database(f"order_it_{uuid.uuid4().hex[:8]}")
    devstack.create_topics(TOPIC_PARTITIONS)
    return OrderStack(dsn=dsn, bootstrap=devstack.env()["TRADEMESH_KAFKA_BOOTSTRAP"])


@pytest.fixture(scope="session")
async def order_app(order_stack: OrderStack) -> AsyncIterator[OrderApp]:
    settings = OrderSettings(
        postgres_dsn=order_stack.dsn,
        kafka_bootstrap=order_stack.bootstrap,
        grpc_host="127.0.0.1",
        grpc_port=0,
        paper_starting_cash=STARTING_CASH,
        paper_starting_positions=STARTING_POSITIONS,
        allow_short=False,
    )
    health = Health()
    app = OrderApp(settings, health)
    await app.start()
    try:
        await wait_until(lambda: _all_ready(health), what="the order service to be ready")
        yield app
    finally:
        await app.stop()


async def _all_ready(health: Health) -> bool:
    return all((await health.readiness()).values())


@pytest.fixture(scope="session")
async def order_client(order_app: OrderApp) -> AsyncIterator[order_pb2_grpc.OrderServiceStub]:
    channel = create_channel(f"127.0.0.1:{order_app.grpc_port}", TlsSettings())
    try:
        yield order_pb2_grpc.OrderServiceStub(channel)
    finally:
        await channel.close()


@pytest.fixture
def user_id() -> str:
    """A fresh user per test: every test gets a new paper account."""
    return f"user-{uuid.uuid4().hex[:12]}"


async def wait_until(
    condition: Callable[[], Any], *, what: str, timeout: float = WAIT_SECONDS
) -> Any:
    """Polls `condition` (sync or async) until it returns something truthy; returns it."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.fixture(scope="session")
def eventually() -> Callable[..., Awaitable[Any]]:
    """`await eventually(condition, what=...)`: wait_until, for the test modules."""
    return wait_until


class TopicTap:
    """Reads a topic from the beginning under a group of its own and keeps every record."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self.records: list[Message] = []
        self._consumer = AsyncBatchConsumer(
            consumer_config(bootstrap, f"order-it-{uuid.uuid4().hex[:8]}"), [topic]
        )

    async def _poll(self) -> None:
        self.records.extend(await self._consumer.poll_batch(500, 0.1))

    async def find_all(
        self, predicate: Callable[[Message], bool], count: int, timeout: float = WAIT_SECONDS
    ) -> list[Message]:
        """Waits until `count` records match; returns all that match by then."""

        async def enough() -> list[Message] | None:
            found = [record for record in self.records if predicate(record)]
            if len(found) >= count:
                return found
            await self._poll()
            return None

        what = f"{count} matching records on {self.topic}"
        return await wait_until(enough, what=what, timeout=timeout)

    async def find(
        self, predicate: Callable[[Message], bool], timeout: float = WAIT_SECONDS
    ) -> Message:
        return (await self.find_all(predicate, 1, timeout))[0]

    async def settle(self, seconds: float = 1.0) -> None:
        """Keeps reading for a while, to see that nothing more arrives."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            await self._poll()

    async def close(self) -> None:
        await self._consumer.close()


@pytest.fixture(scope="session")
async def orders_tap(order_stack: OrderStack) -> AsyncIterator[TopicTap]:
    tap = TopicTap(order_stack.bootstrap, Topics.ORDERS)
    yield tap
    await tap.close()


@pytest.fixture(scope="session")
async def updates_tap(order_stack: OrderStack) -> AsyncIterator[TopicTap]:
    tap = TopicTap(order_stack.bootstrap, Topics.ORDER_UPDATES)
    yield tap
    await tap.close()


@pytest.fixture(scope="session")
async def dead_letter_tap(order_stack: OrderStack) -> AsyncIterator[TopicTap]:
    tap = TopicTap(order_stack.bootstrap, dead_letter_topic(Topics.EXECUTIONS))
    yield tap
    await tap.close()


class FakeMatching:
    """Produces execution reports onto `executions` the way the matching engine does."""

    def __init__(self, producer: AsyncProducer) -> None:
        self._producer = producer

    async def send_raw(self, key: str, value: bytes) -> None:
        await asyncio.wait_for(self._producer.produce(Topics.EXECUTIONS, key, value), 10)

    async def send(self, report: executions_pb2.ExecutionReport) -> executions_pb2.ExecutionReport:
        await self.send_raw(report.symbol, report.SerializeToString())
        return report

    @staticmethod
    def report(order: order_pb2.Order, kind: int, **fields: Any) -> executions_pb2.ExecutionReport:
        return executions_pb2.ExecutionReport(
            execution_id=f"e-{uuid.uuid4().hex}",
            order_id=order.order_id,
            user_id=order.user_id,
            symbol=order.symbol,
            type=kind,
            created_at_us=time.time_ns() // 1000,
            **fields,
        )

    async def ack(self, order: order_pb2.Order) -> executions_pb2.ExecutionReport:
        return await self.send(
            self.report(order, executions_pb2.EXECUTION_TYPE_ACK, leaves_quantity=order.quantity)
        )

    async def fill(
        self, order: order_pb2.Order, quantity: int, price_ticks: int
    ) -> executions_pb2.ExecutionReport:
        return await self.send(
            self.report(
                order,
                executions_pb2.EXECUTION_TYPE_FILL,
                last_quantity=quantity,
                last_price_ticks=price_ticks,
                trade_id=f"t-{uuid.uuid4().hex[:12]}",
                liquidity=executions_pb2.LIQUIDITY_TAKER,
            )
        )

    async def cancel(self, order: order_pb2.Order, reason: str) -> executions_pb2.ExecutionReport:
        return await self.send(
            self.report(order, executions_pb2.EXECUTION_TYPE_CANCEL, reason=reason)
        )

    async def reject(
        self, order: order_pb2.Order, reason: str, command_id: str = ""
    ) -> executions_pb2.ExecutionReport:
        return await self.send(
            self.report(
                order, executions_pb2.EXECUTION_TYPE_REJECT, reason=reason, command_id=command_id
            )
        )


@pytest.fixture(scope="session")
def kafka_producer(order_stack: OrderStack) -> Iterator[AsyncProducer]:
    producer = AsyncProducer(producer_config(order_stack.bootstrap))
    yield producer
    producer.close()


@pytest.fixture(scope="session")
def matching(kafka_producer: AsyncProducer) -> FakeMatching:
    return FakeMatching(kafka_producer)
