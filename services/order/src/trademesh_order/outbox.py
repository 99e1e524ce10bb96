"""The transactional outbox: Kafka records committed in PostgreSQL with the change that owes
them, then published.

Writing the record in the same transaction as the order (or the applied
execution) means nothing accepted is ever lost: the caller hands the record to
the producer right after its commit, without waiting for the delivery; rows
delivered are marked published in batches a few milliseconds later, and a relay
republishes rows still unpublished a few seconds later (the process died, or
Kafka was down, between commit and delivery). A record may therefore be
published twice; consumers de-duplicate by command id, order id or execution id.
"""

import asyncio
import contextlib
import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import asyncpg
from confluent_kafka import Message

from trademesh_common.kafka import AsyncProducer
from trademesh_common.telemetry import KafkaHeaders, kafka_headers

log = logging.getLogger(__name__)

# How long a fresh row is left to its own publisher before the relay takes it over.
RELAY_AFTER = timedelta(seconds=5)
RELAY_INTERVAL_SECONDS = 1.0
RELAY_BATCH = 200
DELIVERY_TIMEOUT_SECONDS = 5.0
# Deliveries are marked published in one UPDATE per this interval at most: one round trip
# for many records instead of one each. Well below RELAY_AFTER, so the relay does not
# republish rows merely waiting for their mark.
MARK_INTERVAL_SECONDS = 0.05
# Published rows are kept a day for inspection, then pruned.
KEEP_PUBLISHED = timedelta(days=1)
PRUNE_EVERY_SECONDS = 600.0


@dataclass(frozen=True)
class OutboxRecord:
    id: int
    topic: str
    key: str
    payload: bytes
    # The trace context of the change that owes the record, captured when it is enqueued:
    # it is published after that span ended. The relay's republished rows go without.
    headers: KafkaHeaders = field(default_factory=list)


async def enqueue(conn: asyncpg.Connection, topic: str, key: str, payload: bytes) -> OutboxRecord:
    record_id = await conn.fetchval(
        "INSERT INTO outbox (topic, key, payload) VALUES ($1, $2, $3) RETURNING id",
        topic,
        key,
        payload,
    )
    return OutboxRecord(record_id, topic, key, payload, kafka_headers())


class OutboxPublisher:
    def __init__(self, pool: asyncpg.Pool, producer: AsyncProducer) -> None:
        self._pool = pool
        self._producer = producer
        # Ids delivered and not yet marked published; the marker task empties it.
        self._delivered: list[int] = []
        self._marks_due = asyncio.Event()

    async def _deliver(self, records: Sequence[OutboxRecord]) -> list[int]:
        """Produces the records and waits for their deliveries; returns the ids delivered."""
        futures = [
            self._producer.produce(record.topic, record.key, record.payload, record.headers)
            for record in records
        ]
        results = await asyncio.gather(
            *(asyncio.wait_for(future, DELIVERY_TIMEOUT_SECONDS) for future in futures),
            return_exceptions=True,
        )
        delivered = []
        for record, result in zip(records, results, strict=True):
            if isinstance(result, BaseException):
                _log_undelivered(record, result)
            else:
                delivered.append(record.id)
        return delivered

    async def publish(self, records: Sequence[OutboxRecord]) -> None:
        """Hands records whose transaction has committed to the producer, without waiting.

        Each delivery is marked published by the marker task (run_marker); a failed one
        is left to the relay. Never raises for Kafka trouble.
        """
        for record in records:
            future = self._producer.produce(
                record.topic, record.key, record.payload, record.headers
            )
            future.add_done_callback(functools.partial(self._delivery_done, record))

    def _delivery_done(self, record: OutboxRecord, future: asyncio.Future[Message]) -> None:
        if future.cancelled():
            return
        error = future.exception()
        if error is not None:
            _log_undelivered(record, error)
            return
        self._delivered.append(record.id)
        self._marks_due.set()

    async def mark_delivered(self) -> int:
        """Marks the deliveries seen so far published, in one statement; returns how many.

        On database trouble the ids are dropped: the relay republishes those rows later,
        which consumers de-duplicate.
        """
        ids, self._delivered = self._delivered, []
        self._marks_due.clear()
        if not ids:
            return 0
        try:
            async with self._pool.acquire() as conn:
                await _mark_published(conn, ids)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("could not mark outbox records published", extra={"error": repr(exc)})
            return 0
        return len(ids)

    async def run_marker(self, stop: asyncio.Event) -> None:
        """Marks deliveries published until `stop` is set, then once more."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._marks_due.wait(), RELAY_INTERVAL_SECONDS)
            # Let more deliveries gather: one UPDATE for all of them.
            await asyncio.sleep(MARK_INTERVAL_SECONDS)
            await self.mark_delivered()
        await self.mark_delivered()

    async def relay_once(self, older_than: timedelta = RELAY_AFTER) -> int:
        """Publishes rows left unpublished for longer than `older_than`; returns how many
        were delivered. SKIP LOCKED lets several replicas relay side by side."""
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT id, topic, key, payload FROM outbox"
                " WHERE published_at IS NULL"
                " AND created_at < now() - $1::interval"
                " ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED",
                older_than,
                RELAY_BATCH,
            )
            if not rows:
                return 0
            records = [OutboxRecord(r["id"], r["topic"], r["key"], r["payload"]) for r in rows]
            delivered = await self._deliver(records)
            await _mark_published(conn, delivered)
        log.info("relayed outbox records", extra={"delivered": len(delivered)})
        return len(delivered)

    async def prune(self) -> None:
        async with self._pool.acquire() as conn:
            await conn.execute(
                "DELETE FROM outbox WHERE published_at < now() - $1::interval", KEEP_PUBLISHED
            )

    async def run_relay(self, stop: asyncio.Event) -> None:
        """Relays until `stop` is set; database or Kafka trouble is logged and retried."""
        loop = asyncio.get_running_loop()
        next_prune = loop.time() + PRUNE_EVERY_SECONDS
        while not stop.is_set():
            try:
                await self.relay_once()
                if loop.time() >= next_prune:
                    await self.prune()
                    next_prune = loop.time() + PRUNE_EVERY_SECONDS
            except Exception:  # a relay that dies would silently strand records: keep going
                log.exception("outbox relay failed, retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RELAY_INTERVAL_SECONDS)


def _log_undelivered(record: OutboxRecord, error: BaseException) -> None:
    log.warning(
        "outbox record not delivered, the relay will retry",
        extra={"outbox_id": record.id, "topic": record.topic, "error": repr(error)},
    )


async def _mark_published(conn: asyncpg.Connection, ids: Sequence[int]) -> None:
    if ids:
        await conn.execute(
            "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])", list(ids)
        )
