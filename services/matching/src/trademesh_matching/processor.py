"""The consume-transform-produce loop: exactly once through Kafka transactions.

Each batch of commands from `orders` is applied to the books, and the
resulting executions, market data, dead letters and the consumed offsets are
committed in one Kafka transaction. If the process dies mid-batch, the open
transaction is aborted by the broker (readers use read_committed, so they
never see its records) and the next owner of the partition rebuilds the
books from the last snapshot plus a replay up to the committed offset, then
re-processes the batch with the same deterministic ids.
"""

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from google.protobuf.message import DecodeError
from opentelemetry import trace
from prometheus_client import Counter, Gauge, Histogram
from redis import Redis

from trademesh.events.v1 import orders_pb2
from trademesh_common.kafka import (
    consumer_config,
    dead_letter_headers,
    dead_letter_topic,
    drain,
    producer_config,
)
from trademesh_common.metrics import LATENCY_BUCKETS
from trademesh_common.telemetry import context_from_kafka_headers, kafka_headers
from trademesh_matching.engine import Outputs, PartitionEngine
from trademesh_matching.gc_policy import settle_collector
from trademesh_matching.settings import MatchingSettings
from trademesh_matching.snapshots import SnapshotStore, store_trades

log = logging.getLogger(__name__)
_tracer = trace.get_tracer("trademesh.matching")

COMMANDS = Counter(
    "trademesh_matching_commands_total",
    "Order commands applied to the books, by outcome (applied, dead_lettered).",
    ["outcome"],
)
TRANSACTION_SECONDS = Histogram(
    "trademesh_matching_transaction_duration_seconds",
    "Time to apply one batch and commit its Kafka transaction.",
    buckets=LATENCY_BUCKETS,
)
TRADES = Counter(
    "trademesh_matching_trades_total",
    "Trades executed by the books, by symbol.",
    ["symbol"],
)
BOOK_DEPTH_QUANTITY = Gauge(
    "trademesh_matching_book_depth_quantity",
    "Resting quantity in the best 50 price levels of a book, by symbol and side.",
    ["symbol", "side"],
)
BOOK_DEPTH_ORDERS = Gauge(
    "trademesh_matching_book_depth_orders",
    "Resting orders in the best 50 price levels of a book, by symbol and side.",
    ["symbol", "side"],
)
RECOVERIES = Counter(
    "trademesh_matching_recoveries_total",
    "Partition books rebuilt on assignment: from a snapshot, plus a replay when the log is ahead.",
)

_NO_OFFSET = -1001  # librdkafka's OFFSET_INVALID: the group never committed
_DEPTH_LEVELS = 50


@dataclass(frozen=True, slots=True)
class DepthView:
    bids: list[tuple[int, int, int]]
    asks: list[tuple[int, int, int]]
    sequence: int


class BadCommand(ValueError):
    pass


def decode_command(value: bytes | None) -> orders_pb2.OrderCommand:
    if not value:
        raise BadCommand("empty record")
    try:
        command = orders_pb2.OrderCommand.FromString(value)
    except DecodeError as exc:
        raise BadCommand(f"not an OrderCommand: {exc}") from exc
    if not command.symbol or command.WhichOneof("command") is None:
        raise BadCommand("command without symbol or body")
    return command


class MatchingProcessor:
    def __init__(self, settings: MatchingSettings, redis_client: Redis) -> None:
        self._settings = settings
        self._redis = redis_client
        self._snapshots = SnapshotStore(redis_client)
        self._topic = settings.orders_topic
        self._consumer = Consumer(
            consumer_config(
                settings.kafka_bootstrap,
                settings.consumer_group,
                # Whole-partition hand-over: books move with their partitions.
                **{"partition.assignment.strategy": "range"},
                **(
                    {"group.instance.id": settings.group_instance_id}
                    if settings.group_instance_id
                    else {}
                ),
            ),
            logger=log,
        )
        self._producer = Producer(
            producer_config(
                settings.kafka_bootstrap,
                **{
                    "transactional.id": settings.transactional_id,
                    "linger.ms": 2,
                    # A transaction begun right after the last one committed finds the
                    # coordinator still writing that one's markers (CONCURRENT_TRANSACTIONS)
                    # and retries after this backoff: the default 100 ms was most of
                    # send_offsets_to_transaction's time. Retries still back off
                    # exponentially up to retry.backoff.max.ms.
                    "retry.backoff.ms": 5,
                },
            ),
            logger=log,
        )
        self._engines: dict[int, PartitionEngine] = {}
        self._stop = threading.Event()
        self.ready = threading.Event()
        # Read by the gRPC API from another thread: whole-value swaps only.
        self.depth: dict[str, DepthView] = {}
        self._dirty: set[int] = set()
        self._since_snapshot = 0
        self._last_snapshot = time.monotonic()

    # -- lifecycle ----------------------------------------------------------------

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        self._producer.init_transactions(30)
        self._consumer.subscribe(
            [self._topic],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        try:
            while not self._stop.is_set():
                messages = drain(self._consumer, self._settings.batch_size, 0.05)
                if messages:
                    self._process_with_retry(messages)
                self._maybe_snapshot()
        finally:
            self._snapshot_all()
            self._consumer.close()
            self._producer.flush(10)

    # -- partition ownership ------------------------------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self._engines[tp.partition] = self._recover(tp.partition)
            self._refresh_depth(self._engines[tp.partition])
        # The books are loaded: freeze the heap out of the collector's sight (gc_policy.py).
        settle_collector()
        self.ready.set()
        log.info("partitions assigned", extra={"partitions": [tp.partition for tp in partitions]})

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # A clean hand-over: the next owner starts from a fresh snapshot.
        for tp in partitions:
            engine = self._engines.pop(tp.partition, None)
            if engine is not None:
                self._snapshots.save(self._topic, tp.partition, engine.to_snapshot())
        log.info("partitions revoked", extra={"partitions": [tp.partition for tp in partitions]})

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Another instance may own them already: drop state, write nothing.
        for tp in partitions:
            self._engines.pop(tp.partition, None)

    def _committed_offset(self, partition: int) -> int:
        [tp] = self._consumer.committed([TopicPartition(self._topic, partition)], timeout=10)
        return tp.offset

    def _recover(self, partition: int) -> PartitionEngine:
        """The partition's books as of the group's committed offset."""
        window = self._settings.dedupe_window
        committed = self._committed_offset(partition)
        snapshot = self._snapshots.load(self._topic, partition)
        engine = PartitionEngine(partition, window)
        if snapshot is not None and (
            committed == _NO_OFFSET or snapshot["next_offset"] <= committed
        ):
            engine = PartitionEngine.from_snapshot(snapshot, window)
        elif snapshot is not None:
            log.warning(
                "snapshot is ahead of the committed offset; rebuilding from the log",
                extra={"partition": partition},
            )
        if committed == _NO_OFFSET:
            return engine  # a partition nobody has consumed yet: nothing to recover
        replayed = self._replay(engine, committed) if committed > engine.next_offset else 0
        RECOVERIES.inc()
        log.info(
            "partition recovered",
            extra={
                "partition": partition,
                "snapshot_offset": snapshot["next_offset"] if snapshot else None,
                "committed": committed,
                "replayed": replayed,
            },
        )
        return engine

    def _replay(self, engine: PartitionEngine, until: int) -> int:
        """Applies commands [engine.next_offset, until) and discards their outputs."""
        replay = Consumer(
            consumer_config(
                self._settings.kafka_bootstrap,
                f"{self._settings.consumer_group}-replay",
                **{"enable.partition.eof": True},
            ),
            logger=log,
        )
        replayed = 0
        try:
            replay.assign([TopicPartition(self._topic, engine.partition, engine.next_offset)])
            deadline = time.monotonic() + 300
            while engine.next_offset < until:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"replay of partition {engine.partition} timed out")
                for message in replay.consume(1000, 0.5):
                    error = message.error()
                    if error is not None:
                        if error.code() == KafkaError._PARTITION_EOF:
                            engine.next_offset = max(engine.next_offset, message.offset())
                        continue
                    if message.offset() >= until:
                        engine.next_offset = until
                        break
                    try:
                        engine.apply(decode_command(message.value()), message.offset())
                    except BadCommand:
                        engine.next_offset = message.offset() + 1
                    replayed += 1
        finally:
            replay.close()
        engine.next_offset = until
        return replayed

    # -- batches ------------------------------------------------------------------

    def _process_with_retry(self, messages: list[Message]) -> None:
        try:
            self._process(messages)
        except KafkaException as exc:
            error: KafkaError = exc.args[0]
            if error.fatal() or not error.txn_requires_abort():
                raise  # fenced or broken: let the orchestrator restart us
            log.warning("aborting transaction", extra={"error": str(error)})
            self._producer.abort_transaction()
            self._rewind()

    def _rewind(self) -> None:
        """After an abort the books ran ahead of Kafka: rebuild them and seek back."""
        for partition in list(self._engines):
            engine = self._recover(partition)
            self._engines[partition] = engine
            self._consumer.seek(TopicPartition(self._topic, partition, engine.next_offset))

    def _process(self, messages: list[Message]) -> None:
        started = time.perf_counter()
        produce = self._producer.produce
        executions_topic = self._settings.executions_topic
        marketdata_topic = self._settings.marketdata_topic
        next_offsets: dict[int, int] = {}
        trades = []
        touched: dict[int, set[str]] = {}
        applied = 0
        self._producer.begin_transaction()
        for message in messages:
            if message.error() is not None:
                if message.error().code() != KafkaError._PARTITION_EOF:
                    log.warning("consume error", extra={"error": str(message.error())})
                continue
            partition, offset = message.partition(), message.offset()
            engine = self._engines.get(partition)
            if engine is None or offset < engine.next_offset:
                continue  # not ours any more, or already in the books
            next_offsets[partition] = offset + 1
            try:
                command = decode_command(message.value())
            except BadCommand as exc:
                produce(
                    dead_letter_topic(self._topic),
                    value=message.value(),
                    key=message.key(),
                    headers=dead_letter_headers(message, str(exc)),
                )
                engine.next_offset = offset + 1
                COMMANDS.labels("dead_lettered").inc()
                continue
            outputs = self._apply_traced(engine, command, message)
            applied += 1
            headers = message.headers() or None
            key = command.symbol.encode()
            for report in outputs.executions:
                produce(executions_topic, report.SerializeToString(), key, headers=headers)
            for event in outputs.marketdata:
                produce(marketdata_topic, event.SerializeToString(), key, headers=headers)
            trades.extend(outputs.trades)
            touched.setdefault(partition, set()).add(command.symbol)
        store_trades(self._redis, trades)
        if next_offsets:
            self._producer.send_offsets_to_transaction(
                [TopicPartition(self._topic, p, o) for p, o in next_offsets.items()],
                self._consumer.consumer_group_metadata(),
            )
        self._producer.commit_transaction()
        COMMANDS.labels("applied").inc(applied)
        for trade in trades:
            TRADES.labels(trade.symbol).inc()
        TRANSACTION_SECONDS.observe(time.perf_counter() - started)
        self._since_snapshot += len(messages)
        self._dirty.update(touched)
        for partition, symbols in touched.items():
            engine = self._engines[partition]
            for symbol in symbols:
                self._refresh_depth(engine, symbol)

    def _apply_traced(
        self, engine: PartitionEngine, command: orders_pb2.OrderCommand, message: Message
    ) -> Outputs:
        headers = message.headers()
        if not headers:
            # Matching continues traces; it does not start them (keeps the hot path lean).
            return engine.apply(command, message.offset())
        with _tracer.start_as_current_span(
            "matching.apply",
            context=context_from_kafka_headers(headers),
            kind=trace.SpanKind.CONSUMER,
            attributes={"trademesh.symbol": command.symbol},
        ) as span:
            kind = command.WhichOneof("command")
            if kind is not None:
                span.set_attribute("trademesh.order_id", getattr(command, kind).order_id)
            outputs = engine.apply(command, message.offset())
            # Downstream spans become children of the matching span.
            message.set_headers(kafka_headers())
        return outputs

    # -- read views and snapshots -------------------------------------------------

    def _refresh_depth(self, engine: PartitionEngine, symbol: str | None = None) -> None:
        symbols = [symbol] if symbol else list(engine.books)
        for name in symbols:
            bids, asks = engine.books[name].depth(_DEPTH_LEVELS)
            self.depth[name] = DepthView(bids, asks, engine.next_offset - 1)
            for side, levels in (("buy", bids), ("sell", asks)):
                BOOK_DEPTH_QUANTITY.labels(name, side).set(sum(level[1] for level in levels))
                BOOK_DEPTH_ORDERS.labels(name, side).set(sum(level[2] for level in levels))

    def _maybe_snapshot(self) -> None:
        due = (
            self._since_snapshot >= self._settings.snapshot_every_commands
            or time.monotonic() - self._last_snapshot >= self._settings.snapshot_every_seconds
        )
        if due and self._dirty:
            self._snapshot_all()

    def _snapshot_all(self) -> None:
        for partition in self._dirty:
            engine = self._engines.get(partition)
            if engine is not None:
                self._snapshots.save(self._topic, partition, engine.to_snapshot())
        self._dirty.clear()
        self._since_snapshot = 0
        self._last_snapshot = time.monotonic()

    def status(self) -> dict[str, Any]:
        return {p: e.next_offset for p, e in self._engines.items()}
