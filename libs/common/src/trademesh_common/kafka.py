"""Kafka helpers on confluent-kafka: configs, an asyncio producer and batch consumer,
dead-letter records and trace context in record headers.

Topics are keyed by symbol (or by user for per-user streams) so one key's
events keep their order on one partition.
"""

import asyncio
import concurrent.futures
import contextlib
import functools
import json
import logging
import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from trademesh_common.metrics import KAFKA_CONSUMER_LAG, KAFKA_RECORDS_CONSUMED
from trademesh_common.telemetry import kafka_headers

log = logging.getLogger(__name__)

DEAD_LETTER_SUFFIX = ".dlq"
LAG_STATISTICS_INTERVAL_MS = 5000
DEAD_LETTER_DELIVERY_TIMEOUT_SECONDS = 10.0


class Topics:
    ORDERS = "orders"
    EXECUTIONS = "executions"
    MARKETDATA = "marketdata"
    ORDER_UPDATES = "order-updates"


_ENV_PREFIX = "TRADEMESH_KAFKA_"


def security_config(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """librdkafka security settings from the environment (the chart or the devstack sets them).

    TRADEMESH_KAFKA_SECURITY_PROTOCOL=SSL and TRADEMESH_KAFKA_SSL_<NAME> become
    `security.protocol` and `ssl.<name>` (e.g. _SSL_CERTIFICATE_LOCATION ->
    ssl.certificate.location). Unset means plaintext. librdkafka reads the files when
    a client is created: a rotated client certificate takes effect on the next start.
    """
    source = os.environ if env is None else env
    return {
        key[len(_ENV_PREFIX) :].lower().replace("_", "."): value
        for key, value in source.items()
        if key.startswith(_ENV_PREFIX + "SSL_") or key == _ENV_PREFIX + "SECURITY_PROTOCOL"
    }


def producer_config(bootstrap: str, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        **security_config(),
        "bootstrap.servers": bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        # Small linger: order flow is latency-sensitive; batching still happens under load.
        "linger.ms": 1,
        "compression.type": "lz4",
    }
    config.update(overrides)
    return config


def consumer_config(bootstrap: str, group_id: str, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        **security_config(),
        "bootstrap.servers": bootstrap,
        "group.id": group_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        # Never see records of aborted or still-open transactions.
        "isolation.level": "read_committed",
        # How long the broker holds a fetch that finds nothing: it answers as soon as
        # records arrive, so this costs no latency. At 5 ms every idle consumer sent ~200
        # fetches a second, and the broker spent a third of a core answering them.
        "fetch.wait.max.ms": 100,
        "partition.assignment.strategy": "cooperative-sticky",
        # librdkafka's statistics carry each partition's positions: the lag gauge reads them.
        "statistics.interval.ms": LAG_STATISTICS_INTERVAL_MS,
        "stats_cb": functools.partial(record_consumer_lag, group_id),
    }
    config.update(overrides)
    return config


def record_consumer_lag(group_id: str, statistics: str) -> None:
    """Sets the lag gauge from one librdkafka statistics document (JSON)."""
    for topic, topic_stats in json.loads(statistics).get("topics", {}).items():
        for partition, stats in topic_stats.get("partitions", {}).items():
            if partition == "-1":
                continue  # librdkafka's internal "unassigned" partition
            # Past the application's position to the last stable offset (read_committed).
            end = stats.get("ls_offset", -1)
            position = stats.get("app_offset", -1)
            if end >= 0 and position >= 0:
                KAFKA_CONSUMER_LAG.labels(group_id, topic, partition).set(max(0, end - position))


def dead_letter_headers(message: Message, reason: str) -> list[tuple[str, bytes]]:
    return [
        *(message.headers() or []),
        ("x-dead-letter-reason", reason.encode()),
        ("x-source-topic", (message.topic() or "").encode()),
        ("x-source-partition", str(message.partition()).encode()),
        ("x-source-offset", str(message.offset()).encode()),
    ]


def dead_letter_topic(topic: str) -> str:
    return topic + DEAD_LETTER_SUFFIX


async def dead_letter(
    producer: "AsyncProducer",
    topic: str,
    refused: Sequence[tuple[Message, str]],
    timeout: float = DEAD_LETTER_DELIVERY_TIMEOUT_SECONDS,
) -> bool:
    """Copies each refused record of `topic`, with its reason, to the topic's dead-letter
    topic and waits for every delivery (raises if one fails: the caller retries, and must
    not commit the offsets before they are delivered). True, for `until_done`."""
    if not refused:
        return True
    target = dead_letter_topic(topic)
    futures = []
    for message, reason in refused:
        log.warning(
            "record dead-lettered",
            extra={
                "topic": topic,
                "reason": reason,
                "partition": message.partition(),
                "offset": message.offset(),
            },
        )
        futures.append(
            producer.produce(
                target,
                message.key() or b"",
                message.value() or b"",
                headers=dead_letter_headers(message, reason),
            )
        )
    await asyncio.wait_for(asyncio.gather(*futures), timeout)
    KAFKA_RECORDS_CONSUMED.labels(topic, "dead_lettered").inc(len(futures))
    return True


def drain(consumer: Consumer, max_messages: int, timeout: float) -> list[Message]:
    """Waits up to `timeout` for one record, then takes what else is already fetched.

    `Consumer.consume(n, timeout)` waits for n records or the whole timeout, which
    under light traffic adds the full timeout to every hop.
    """
    first = consumer.poll(timeout)
    if first is None:
        return []
    return [first, *consumer.consume(max_messages - 1, 0)] if max_messages > 1 else [first]


class AsyncProducer:
    """A producer whose deliveries can be awaited; a thread serves its callbacks.

    Delivery reports are handed to the event loop in bunches, one wake-up per poll that
    served any, rather than one per record: under load that is most of the producer's
    cost on the loop.
    """

    def __init__(self, config: dict[str, Any]) -> None:
        self._producer = Producer(config)
        self._closed = threading.Event()
        # Delivery outcomes served by librdkafka and not yet handed to their loops. The
        # poll thread serves callbacks, and so may a producing thread whose queue is full.
        self._served: list[tuple[asyncio.AbstractEventLoop, _Delivery]] = []
        self._served_lock = threading.Lock()
        self._poller = threading.Thread(target=self._poll, name="kafka-producer-poll", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while not self._closed.is_set():
            self._producer.poll(0.05)
            self._dispatch()

    def _dispatch(self) -> None:
        """Hands the delivery outcomes served so far to their loops, one call per loop."""
        if not self._served:
            return
        with self._served_lock:
            served, self._served = self._served, []
        by_loop: dict[asyncio.AbstractEventLoop, list[_Delivery]] = {}
        for loop, delivery in served:
            by_loop.setdefault(loop, []).append(delivery)
        for loop, deliveries in by_loop.items():
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody is waiting
                loop.call_soon_threadsafe(_settle, deliveries)

    def produce(
        self,
        topic: str,
        key: str | bytes,
        value: bytes,
        headers: Sequence[tuple[str, bytes]] | None = None,
    ) -> asyncio.Future[Message]:
        """Queues a record; the future resolves on delivery.

        The record carries the current trace context unless `headers` bring one of their
        own (a record published after the span that caused it has ended).
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Message] = loop.create_future()

        def delivered(err: KafkaError | None, message: Message) -> None:
            with self._served_lock:
                self._served.append((loop, (future, err, message)))

        own = list(headers or ())
        all_headers = own if any(k == "traceparent" for k, _ in own) else [*kafka_headers(), *own]
        while True:
            try:
                self._producer.produce(
                    topic, value=value, key=key, headers=all_headers, on_delivery=delivered
                )
                return future
            except BufferError:
                # Local queue full: let the poll thread drain deliveries, then retry.
                self._producer.poll(0.01)
                self._dispatch()

    async def flush(self, timeout: float = 10.0) -> int:
        remaining = await asyncio.to_thread(self._producer.flush, timeout)
        self._dispatch()
        return remaining

    def close(self, timeout: float = 10.0) -> None:
        self._producer.flush(timeout)
        self._closed.set()
        self._poller.join()
        self._dispatch()


_Delivery = tuple["asyncio.Future[Message]", KafkaError | None, Message]


def _settle(deliveries: list[_Delivery]) -> None:
    for future, err, message in deliveries:
        if err is not None:
            _set_exception(future, KafkaException(err))
        else:
            _set_result(future, message)


def _set_result(future: asyncio.Future[Message], message: Message) -> None:
    if not future.done():
        future.set_result(message)


def _set_exception(future: asyncio.Future[Message], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


def _log_commit_failure(queued: concurrent.futures.Future[Any]) -> None:
    error = queued.exception()
    if error is not None:  # e.g. partitions revoked: the new owner replays harmlessly
        log.warning("could not queue an offset commit", extra={"error": repr(error)})


class AsyncBatchConsumer:
    """A consumer driven from asyncio: blocking calls run on one dedicated thread."""

    def __init__(self, config: dict[str, Any], topics: Sequence[str]) -> None:
        self._executor = concurrent.futures.ThreadPoolExecutor(
            1, thread_name_prefix="kafka-consumer"
        )
        self._consumer = Consumer(config, logger=log)
        self._assigned = threading.Event()
        self._consumer.subscribe(list(topics), on_assign=self._on_assign)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assigned.set()

    @property
    def assigned(self) -> bool:
        """True once the group gave this consumer its partitions (readiness)."""
        return self._assigned.is_set()

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def poll_batch(self, max_messages: int = 500, timeout: float = 0.1) -> list[Message]:
        """Up to `max_messages` records; transport errors are logged and skipped."""
        messages = await self._run(drain, self._consumer, max_messages, timeout)
        good = []
        for message in messages:
            error = message.error()
            if error is None:
                good.append(message)
            elif error.code() != KafkaError._PARTITION_EOF:
                log.warning("kafka consume error", extra={"error": str(error)})
        return good

    async def commit(self, messages: Sequence[Message], *, wait: bool = False) -> None:
        """Commits past the last of `messages` per partition.

        By default the commit is only queued (librdkafka's asynchronous commit, itself
        handed to the consumer's thread without waiting): the next batch does not wait a
        broker round trip. That suits consumers whose batches are idempotent (order's
        executions, market's marketdata): an offset lost to a crash or a failed commit only
        replays records that are recognised and skipped. `wait=True` commits synchronously
        and raises on failure.
        """
        if not messages:
            return
        last: dict[tuple[str, int], int] = {}
        for message in messages:
            last[(message.topic(), message.partition())] = message.offset()
        offsets = [TopicPartition(t, p, o + 1) for (t, p), o in last.items()]
        if wait:
            await self._run(lambda: self._consumer.commit(offsets=offsets, asynchronous=False))
            return
        queued = self._executor.submit(self._consumer.commit, offsets=offsets, asynchronous=True)
        queued.add_done_callback(_log_commit_failure)

    async def close(self) -> None:
        await self._run(self._consumer.close)
        self._executor.shutdown(wait=True)
