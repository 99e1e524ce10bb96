"""The `executions` consumer: batches of matching's reports applied, then acknowledged.

Per batch: apply in one PostgreSQL transaction (retried until it commits),
send undecodable or orphaned records to `executions.dlq`, hand the
OrderUpdates the batch owes to the producer, and only then queue the Kafka
offset commit (asynchronous: nothing waits for it). A crash anywhere before
the offsets reach Kafka replays the batch, which is harmless: applied reports
are recognised by their ids.

OrderUpdates are at-least-once: they sit in the outbox, committed with the
change they describe, and are published right after the commit or by the
relay later. A consumer of `order-updates` may see one twice, or an older one
after a newer one, and should keep the update with the latest updated_at_us.
"""

import asyncio
import logging
import time
from collections.abc import Sequence

from confluent_kafka import Message

from trademesh_common.kafka import (
    AsyncBatchConsumer,
    AsyncProducer,
    dead_letter,
)
from trademesh_common.metrics import KAFKA_RECORDS_CONSUMED
from trademesh_common.retry import until_done
from trademesh_order.execution_applier import AppliedBatch, ExecutionApplier
from trademesh_order.metrics import EXECUTION_APPLY_SECONDS
from trademesh_order.outbox import OutboxPublisher

log = logging.getLogger(__name__)


CONSUMER_GROUP = "order"
BATCH_SIZE = 500
POLL_TIMEOUT_SECONDS = 0.1


class ExecutionsConsumer:
    def __init__(
        self,
        consumer: AsyncBatchConsumer,
        applier: ExecutionApplier,
        publisher: OutboxPublisher,
        producer: AsyncProducer,
        topic: str,
    ) -> None:
        self._consumer = consumer
        self._applier = applier
        self._publisher = publisher
        self._producer = producer
        self._topic = topic

    @property
    def assigned(self) -> bool:
        return self._consumer.assigned

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            messages = await self._consumer.poll_batch(BATCH_SIZE, POLL_TIMEOUT_SECONDS)
            if messages:
                await self.process(messages, stop)

    async def process(self, messages: Sequence[Message], stop: asyncio.Event) -> None:
        batch = await until_done("apply execution reports", self._apply, messages, stop=stop)
        if batch is None:
            return  # stopping: nothing committed, the next owner replays the batch
        delivered = await until_done(
            "dead-letter execution reports", self._dead_letter, batch, stop=stop
        )
        if delivered is None:
            return
        await self._publisher.publish(batch.updates)
        try:
            await self._consumer.commit(messages)
        except Exception as exc:  # e.g. partitions revoked: the new owner replays harmlessly
            log.warning("could not commit executions offsets", extra={"error": repr(exc)})

    async def _apply(self, messages: Sequence[Message]) -> AppliedBatch:
        started = time.perf_counter()
        batch = await self._applier.apply_batch(messages)
        EXECUTION_APPLY_SECONDS.observe(time.perf_counter() - started)
        ok = len(messages) - len(batch.dead_letters)
        KAFKA_RECORDS_CONSUMED.labels(self._topic, "ok").inc(ok)
        return batch

    async def _dead_letter(self, batch: AppliedBatch) -> bool:
        return await dead_letter(self._producer, self._topic, batch.dead_letters)
