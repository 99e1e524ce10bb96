"""The order service's parts wired together: database, Kafka, background tasks, gRPC server.

`OrderApp` starts and stops them in order; `__main__` runs it inside the
shared ServiceRuntime, and the integration tests run it in-process.
"""

import asyncio
import logging
from collections.abc import Callable

import asyncpg

from trademesh.order.v1 import order_pb2_grpc
from trademesh_common.background import BackgroundTasks
from trademesh_common.db import create_pool, migrate, pool_ready_check
from trademesh_common.health import Health
from trademesh_common.kafka import (
    AsyncBatchConsumer,
    AsyncProducer,
    Topics,
    consumer_config,
    producer_config,
)
from trademesh_common.rpc import GrpcServer
from trademesh_order import store
from trademesh_order.execution_applier import ExecutionApplier
from trademesh_order.executions import CONSUMER_GROUP, ExecutionsConsumer
from trademesh_order.order_entry import OrderEntry, PaperAccountTerms
from trademesh_order.outbox import OutboxPublisher
from trademesh_order.service import OrderServicer
from trademesh_order.settings import OrderSettings

log = logging.getLogger(__name__)

MIGRATIONS_PACKAGE = "trademesh_order.migrations"
GRPC_STOP_GRACE_SECONDS = 5.0


class OrderApp:
    def __init__(
        self,
        settings: OrderSettings,
        health: Health,
        on_fatal: Callable[[], None] | None = None,
    ) -> None:
        """`on_fatal` is called if a background task dies: the process should then stop."""
        self._settings = settings
        self._health = health
        self._background = BackgroundTasks(on_fatal)
        self._pool: asyncpg.Pool | None = None
        self._producer: AsyncProducer | None = None
        self._consumer: AsyncBatchConsumer | None = None
        self._grpc: GrpcServer | None = None
        self.publisher: OutboxPublisher | None = None

    @property
    def grpc_port(self) -> int:
        assert self._grpc is not None, "start() first"
        return self._grpc.port

    async def start(self) -> None:
        settings = self._settings
        applied = await migrate(settings.postgres_dsn, MIGRATIONS_PACKAGE)
        log.info("database migrated", extra={"applied": applied})
        self._pool = pool = await create_pool(settings.postgres_dsn)
        terms = await self._paper_account_terms(pool)
        self._producer = producer = AsyncProducer(producer_config(settings.kafka_bootstrap))
        self._consumer = consumer = AsyncBatchConsumer(
            consumer_config(settings.kafka_bootstrap, CONSUMER_GROUP), [Topics.EXECUTIONS]
        )
        self.publisher = publisher = OutboxPublisher(pool, producer)
        executions = ExecutionsConsumer(
            consumer, ExecutionApplier(pool), publisher, producer, Topics.EXECUTIONS
        )
        self._background.spawn("executions consumer", executions.run(self._background.stopping))
        self._background.spawn("outbox relay", publisher.run_relay(self._background.stopping))
        self._background.spawn("outbox marker", publisher.run_marker(self._background.stopping))

        self._grpc = GrpcServer(settings.grpc_host, settings.grpc_port, settings.tls)
        order_pb2_grpc.add_OrderServiceServicer_to_server(
            OrderServicer(pool, OrderEntry(pool, publisher, terms)), self._grpc.server
        )
        await self._grpc.start()

        async def executions_assigned() -> bool:
            return executions.assigned

        self._health.add_check("postgres", pool_ready_check(pool))
        self._health.add_check("kafka_consumer", executions_assigned)
        log.info("order service ready", extra={"grpc_port": self.grpc_port})

    async def _paper_account_terms(self, pool: asyncpg.Pool) -> PaperAccountTerms:
        positions = self._settings.starting_positions
        async with pool.acquire() as conn:
            listed = {instrument.symbol for instrument in await store.list_instruments(conn)}
        unlisted = sorted(set(positions) - listed)
        if unlisted:
            raise ValueError(
                f"TRADEMESH_PAPER_STARTING_POSITIONS names unlisted symbols: {', '.join(unlisted)}"
            )
        return PaperAccountTerms(
            starting_cash=self._settings.paper_starting_cash,
            starting_positions=positions,
            allow_short=self._settings.allow_short,
        )

    async def stop(self) -> None:
        """Stops taking requests, then lets the consumer finish its batch, then closes."""
        if self._grpc is not None:
            await self._grpc.stop(GRPC_STOP_GRACE_SECONDS)
        await self._background.stop()
        if self._consumer is not None:
            await self._consumer.close()
        if self._producer is not None:
            await asyncio.to_thread(self._producer.close)
        if self.publisher is not None:
            # Deliveries the close flushed: marked now rather than republished next start.
            await asyncio.sleep(0.01)  # the delivery callbacks run on the loop
            await self.publisher.mark_delivered()
        if self._pool is not None:
            await self._pool.close()
        log.info("order service stopped")
