"""Benchmark (b): the matching service through Kafka with transactions.

Pre-produces a backlog of order commands on a fresh topic, starts one matching
process on it, and measures how fast it works the backlog off: every command
consumed, matched, its executions and market data produced and its offset
committed in Kafka transactions (exactly-once). Prints one JSON object.

    uv run python bench/matching_kafka.py [--commands 200000]
"""

import argparse
import json
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition
from machine import group_cpu_seconds, machine  # bench/ is on sys.path when a script runs

from trademesh.events.v1 import orders_pb2
from trademesh_devstack._proc import ManagedProcess, free_port, wait_for
from trademesh_devstack.mesh import readyz_ok
from trademesh_devstack.stack import DevStack

PARTITIONS = 4
SYMBOLS = [f"BM{n:02d}" for n in range(16)]


def commands(count: int, seed: int = 1) -> Iterator[orders_pb2.OrderCommand]:
    """≈70% limit orders near mid, 20% cancels of live orders, 10% market orders."""
    rng = random.Random(seed)
    live: dict[str, list[tuple[str, str]]] = {s: [] for s in SYMBOLS}
    for n in range(count):
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
        market = roll > 0.9
        side = rng.choice((orders_pb2.SIDE_BUY, orders_pb2.SIDE_SELL))
        order_id, user = f"o{n}", f"u{rng.randrange(1000)}"
        offset = rng.randint(1, 10)
        price = 10_000 - offset if side == orders_pb2.SIDE_BUY else 10_000 + offset
        if rng.random() < 0.15:  # some limits cross the spread
            price = 10_000 + offset if side == orders_pb2.SIDE_BUY else 10_000 - offset
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
                time_in_force=orders_pb2.TIME_IN_FORCE_GTC,
                quantity=rng.randint(1, 50),
                price_ticks=0 if market else price,
            ),
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commands", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args()

    with DevStack() as stack, tempfile.TemporaryDirectory() as tmp:
        prefix = f"bench-{uuid.uuid4().hex[:6]}"
        stack.create_topics(
            {
                f"{prefix}.orders": PARTITIONS,
                f"{prefix}.executions": PARTITIONS,
                f"{prefix}.marketdata": PARTITIONS,
                f"{prefix}.orders.dlq": 1,
            }
        )
        env = stack.env()
        bootstrap = env["TRADEMESH_KAFKA_BOOTSTRAP"]

        producer = Producer(
            {"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.size": 1 << 20}
        )
        for command in commands(args.commands):
            while True:
                try:
                    producer.produce(
                        f"{prefix}.orders", command.SerializeToString(), command.symbol
                    )
                    break
                except BufferError:
                    producer.poll(0.1)
        producer.flush(60)

        http_port = free_port()
        matching = ManagedProcess(
            "matching",
            [sys.executable, "-m", "trademesh_matching"],
            log_path=Path(tmp) / "matching.log",
            env={
                **os.environ,
                **env,
                "TRADEMESH_LOG_LEVEL": "WARNING",
                "TRADEMESH_HTTP_PORT": str(http_port),
                "TRADEMESH_GRPC_PORT": str(free_port()),
                "TRADEMESH_ORDERS_TOPIC": f"{prefix}.orders",
                "TRADEMESH_EXECUTIONS_TOPIC": f"{prefix}.executions",
                "TRADEMESH_MARKETDATA_TOPIC": f"{prefix}.marketdata",
                "TRADEMESH_CONSUMER_GROUP": f"{prefix}-matching",
                "TRADEMESH_TRANSACTIONAL_ID": f"{prefix}-matching",
                "TRADEMESH_BATCH_SIZE": str(args.batch_size),
            },
        )
        matching.start()
        wait_for(
            "matching ready",
            lambda: readyz_ok(f"http://127.0.0.1:{http_port}"),
            timeout=60,
            proc=matching,
            logs=[matching.log_path],
        )
        assert matching.pid is not None
        pids = {"matching": matching.pid, **stack.pids()}
        cpu_before = {name: group_cpu_seconds(pid) for name, pid in pids.items()}
        load_before = os.getloadavg()
        started = time.monotonic()
        group = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{prefix}-matching"})
        partitions = [TopicPartition(f"{prefix}.orders", p) for p in range(PARTITIONS)]
        ends = [group.get_watermark_offsets(tp, timeout=10)[1] for tp in partitions]
        deadline = started + 600
        while time.monotonic() < deadline:
            committed = [tp.offset for tp in group.committed(partitions, timeout=10)]
            if committed == ends:
                break
            time.sleep(0.05)
        elapsed = time.monotonic() - started
        cpu_used = {name: group_cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
        load_after = os.getloadavg()
        executions = sum(
            group.get_watermark_offsets(TopicPartition(f"{prefix}.executions", p), timeout=10)[1]
            for p in range(PARTITIONS)
        )
        group.close()
        matching.stop()

    print(
        json.dumps(
            {
                "benchmark": "matching_kafka",
                "commands": args.commands,
                "batch_size": args.batch_size,
                "partitions": PARTITIONS,
                "seconds": round(elapsed, 3),
                "orders_per_second": round(args.commands / elapsed),
                # Includes transaction markers: an upper bound on execution records.
                "executions_log_end": executions,
                "completed": elapsed < 600,
                # CPU per command while the backlog was worked off: steadier than the rate
                # on a shared machine. The broker also serves the progress polls here.
                "cpu_us_per_command": {
                    name: round(used * 1_000_000 / args.commands, 1)
                    for name, used in cpu_used.items()
                },
                "loadavg_before_after": [
                    [round(x, 2) for x in load_before],
                    [round(x, 2) for x in load_after],
                ],
                "machine": machine(),
            }
        )
    )


if __name__ == "__main__":
    main()
