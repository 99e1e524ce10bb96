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
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from confluent_kafka import Message

from trademesh_common.kafka import (
    AsyncBatchConsumer,
    AsyncProducer,
    dead_letter_headers,
    dead_letter_topic,
)
from trademesh_common.metrics import KAFKA_RECORDS_CONSUMED
from trademesh_order.execution_applier import AppliedBatch, ExecutionApplier
from trademesh_order.metrics import EXECUTION_APPLY_SECONDS
from trademesh_order.outbox import DELIVERY_TIMEOUT_SECONDS, OutboxPublisher

log = logging.getLogger(__name__)

_Input = TypeVar("_Input")
_Result = TypeVar("_Result")

CONSUMER_GROUP = "order"
BATCH_SIZE = 500
POLL_TIMEOUT_SECONDS = 0.1
RETRY_FIRST_DELAY_SECONDS = 0.2
RETRY_MAX_DELAY_SECONDS = 5.0


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
        batch = await _until_done("apply execution reports", self._apply, messages, stop=stop)
        if batch is None:
            return  # stopping: nothing committed, the next owner replays the batch
        delivered = await _until_done(
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
        if not batch.dead_letters:
            return True
        target = dead_letter_topic(self._topic)
        futures = []
        for message, reason in batch.dead_letters:
            log.warning(
                "execution report dead-lettered",
                extra={
                    "reason": reason,
                    "partition": message.partition(),
                    "offset": message.offset(),
                },
            )
            futures.append(
                self._producer.produce(
                    target,
                    message.key() or b"",
                    message.value() or b"",
                    headers=dead_letter_headers(message, reason),
                )
            )
        await asyncio.wait_for(asyncio.gather(*futures), DELIVERY_TIMEOUT_SECONDS)
        KAFKA_RECORDS_CONSUMED.labels(self._topic, "dead_lettered").inc(len(futures))
        return True


async def _until_done(
    what: str,
    action: Callable[[_Input], Awaitable[_Result]],
    argument: _Input,
    *,
    stop: asyncio.Event,
) -> _Result | None:
    """Runs `action` until it succeeds, backing off between tries; None if `stop` comes first.

    Retrying the same batch in memory is what re-consuming it would do, without a seek.
    """
    delay = RETRY_FIRST_DELAY_SECONDS
    while not stop.is_set():
        try:
            return await action(argument)
        except Exception:  # the database or Kafka is away: wait for it rather than skip records
            log.exception(f"could not {what}, retrying", extra={"retry_in_seconds": delay})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        delay = min(delay * 2, RETRY_MAX_DELAY_SECONDS)
    return None
