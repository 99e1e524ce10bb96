"""Matching is killed with SIGKILL mid-stream under load and restarted: the final books equal
those of a run without the crash, and no execution is lost or duplicated.

The test runs its own matching process on topics of its own; the reference run is the same
engine code fed the same records (with their real offsets) in-process, without any crash.
"""

import os
import random
import signal
import sys
import threading
import time
import uuid
from collections import Counter

import grpc
import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from trademesh.events.v1 import executions_pb2, orders_pb2
from trademesh.matching.v1 import matching_pb2, matching_pb2_grpc
from trademesh_devstack._proc import ManagedProcess, free_port, wait_for
from trademesh_devstack.mesh import readyz_ok
from trademesh_matching.engine import PartitionEngine

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SYMBOLS = ("RCVA", "RCVB", "RCVC", "RCVD")
COMMANDS = 24_000
RATE_PER_SECOND = 4_000  # bounded load: about six seconds of flow
KILL_AFTER = 9_000


def command_stream(seed: int = 7):
    rng = random.Random(seed)
    live: dict[str, list[tuple[str, str]]] = {s: [] for s in SYMBOLS}
    for n in range(COMMANDS):
        symbol = rng.choice(SYMBOLS)
        roll = rng.random()
        if roll < 0.2 and live[symbol]:
            order_id, user = live[symbol].pop(rng.randrange(len(live[symbol])))
            yield orders_pb2.OrderCommand(
                command_id=f"x{n}",
                symbol=symbol,
                cancel=orders_pb2.CancelRequested(order_id=order_id, user_id=user, symbol=symbol),
            )
            continue
        order_id, user = f"o{n}", f"u{rng.randrange(20)}"
        side = rng.choice((orders_pb2.SIDE_BUY, orders_pb2.SIDE_SELL))
        market = roll > 0.9
        tif = rng.choice(
            (orders_pb2.TIME_IN_FORCE_GTC,) * 6
            + (orders_pb2.TIME_IN_FORCE_IOC, orders_pb2.TIME_IN_FORCE_FOK)
        )
        live[symbol].append((order_id, user))
        yield orders_pb2.OrderCommand(
            command_id=f"c{n}",
            symbol=symbol,
            accepted=orders_pb2.OrderAccepted(
                order_id=order_id,
                user_id=user,
                symbol=symbol,
                side=side,
                type=orders_pb2.ORDER_TYPE_MARKET if market else orders_pb2.ORDER_TYPE_LIMIT,
                time_in_force=tif,
                quantity=rng.randint(1, 20),
                price_ticks=0 if market else rng.randint(100, 130),
            ),
        )


def read_all(bootstrap: str, topic: str, partitions: int) -> list:
    """Every committed record of `topic`, read to its end."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex}",
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    at_end: set[int] = set()
    records = []
    deadline = time.monotonic() + 60
    while len(at_end) < partitions and time.monotonic() < deadline:
        for message in consumer.consume(1000, 0.5):
            if message.error() is None:
                records.append(message)
                at_end.discard(message.partition())
            elif message.error().code() == KafkaError._PARTITION_EOF:
                at_end.add(message.partition())
    consumer.close()
    assert len(at_end) == partitions, f"could not read {topic} to its end"
    return records


def report_key(report: executions_pb2.ExecutionReport) -> tuple:
    return (
        report.execution_id,
        report.type,
        report.order_id,
        report.user_id,
        report.last_quantity,
        report.last_price_ticks,
        report.leaves_quantity,
        report.cumulative_quantity,
        report.trade_id,
        report.reason,
    )


def test_sigkill_mid_stream_recovers_the_same_books_and_publishes_each_execution_once(
    devstack, tmp_path
):
    prefix = f"recovery-{uuid.uuid4().hex[:6]}"
    topics = {"orders": f"{prefix}.orders", "executions": f"{prefix}.executions"}
    devstack.create_topics(
        {
            topics["orders"]: 2,
            topics["executions"]: 2,
            f"{prefix}.marketdata": 2,
            f"{prefix}.orders.dlq": 1,
        }
    )
    env = devstack.env()
    bootstrap = env["TRADEMESH_KAFKA_BOOTSTRAP"]
    grpc_port, http_port = free_port(), free_port()
    matching_env = {
        **os.environ,
        **env,
        "TRADEMESH_HTTP_PORT": str(http_port),
        "TRADEMESH_GRPC_PORT": str(grpc_port),
        "TRADEMESH_ORDERS_TOPIC": topics["orders"],
        "TRADEMESH_EXECUTIONS_TOPIC": topics["executions"],
        "TRADEMESH_MARKETDATA_TOPIC": f"{prefix}.marketdata",
        "TRADEMESH_CONSUMER_GROUP": f"{prefix}-matching",
        "TRADEMESH_TRANSACTIONAL_ID": f"{prefix}-matching",
        # The restarted process rejoins as the same static member: its partitions come back
        # at once rather than after the killed member's session times out.
        "TRADEMESH_GROUP_INSTANCE_ID": f"{prefix}-matching-0",
        "TRADEMESH_BATCH_SIZE": "200",
        # Snapshot often so recovery uses a snapshot plus a replay, not the whole log.
        "TRADEMESH_SNAPSHOT_EVERY_COMMANDS": "3000",
        "TRADEMESH_SNAPSHOT_EVERY_SECONDS": "1",
    }

    def start_matching(n: int) -> ManagedProcess:
        process = ManagedProcess(
            f"matching-{n}",
            [sys.executable, "-m", "trademesh_matching"],
            log_path=tmp_path / f"matching-{n}.log",
            env=matching_env,
        )
        process.start()
        wait_for(
            "matching ready",
            lambda: readyz_ok(f"http://127.0.0.1:{http_port}"),
            timeout=60,
            proc=process,
            logs=[process.log_path],
        )
        return process

    matching = start_matching(1)
    produced = threading.Event()
    killed_at = {}

    def produce() -> None:
        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
        started = time.monotonic()
        for n, command in enumerate(command_stream()):
            producer.produce(topics["orders"], command.SerializeToString(), command.symbol)
            if n % 500 == 0:
                producer.poll(0)
                # Pace the flow: n commands should take n / RATE seconds.
                ahead = n / RATE_PER_SECOND - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
            if n == KILL_AFTER:
                producer.flush(10)
                killed_at["n"] = n
                os.killpg(matching.pid, signal.SIGKILL)
        producer.flush(30)
        produced.set()

    load = threading.Thread(target=produce)
    load.start()
    while "n" not in killed_at and load.is_alive():
        time.sleep(0.01)
    matching.stop(timeout=5)
    matching = start_matching(2)
    load.join(timeout=60)
    assert produced.is_set()

    # Wait until the group has committed everything produced.
    admin_consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{prefix}-matching"})
    partitions = [TopicPartition(topics["orders"], p) for p in range(2)]
    ends = [admin_consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in partitions]

    def caught_up() -> bool:
        committed = admin_consumer.committed(partitions, timeout=10)
        return [tp.offset for tp in committed] == ends

    wait_for("matching caught up", caught_up, timeout=90, proc=matching, logs=[matching.log_path])
    admin_consumer.close()
    recovery_log = matching.log_path.read_text()
    assert "partition recovered" in recovery_log

    # The run without a crash: the same records, with their offsets, through the same engine.
    engines = {p: PartitionEngine(p) for p in range(2)}
    expected: list[tuple] = []
    orders = sorted(
        read_all(bootstrap, topics["orders"], 2), key=lambda m: (m.partition(), m.offset())
    )
    assert len(orders) == COMMANDS
    for message in orders:
        command = orders_pb2.OrderCommand.FromString(message.value())
        outputs = engines[message.partition()].apply(command, message.offset())
        expected.extend(report_key(r) for r in outputs.executions)

    actual = [
        report_key(executions_pb2.ExecutionReport.FromString(m.value()))
        for m in read_all(bootstrap, topics["executions"], 2)
    ]
    duplicates = [k for k, n in Counter(r[0] for r in actual).items() if n > 1]
    assert duplicates == [], f"{len(duplicates)} executions were published twice"
    assert len(actual) == len(expected)
    assert sorted(actual) == sorted(expected)

    with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        stub = matching_pb2_grpc.MatchingServiceStub(channel)
        for symbol in SYMBOLS:
            depth = stub.GetDepth(matching_pb2.GetDepthRequest(symbol=symbol, depth=50))
            partition = next(p for p, e in engines.items() if symbol in e.books)
            bids, asks = engines[partition].books[symbol].depth(50)
            assert [(lv.price_ticks, lv.quantity, lv.order_count) for lv in depth.bids] == bids
            assert [(lv.price_ticks, lv.quantity, lv.order_count) for lv in depth.asks] == asks
    matching.stop()
