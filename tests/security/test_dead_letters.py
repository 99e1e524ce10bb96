"""Malformed events on real Kafka (over mutual TLS) reach the dead-letter topics.

A seeded corpus of broken records (random bytes, and valid records with flipped,
cut or spliced bytes) that the consumer's own decoder refuses, produced to
`orders` (matching) and `executions` (order); each must come out on `<topic>.dlq`
with a reason while the services keep running.
"""

import random
import time
import uuid

import pytest
from confluent_kafka import Consumer, Producer

from trademesh.events.v1 import executions_pb2, orders_pb2
from trademesh_devstack.kafka import client_security
from trademesh_matching.processor import BadCommand, decode_command
from trademesh_order.execution_applier import DeadLetter, decode_report

pytestmark = [pytest.mark.integration, pytest.mark.slow]
RECORDS_PER_TOPIC = 40


def corrupt(base: bytes, rng: random.Random) -> bytes:
    body = bytearray(base)
    for _ in range(rng.randint(1, 4)):
        if not body:
            break
        at = rng.randrange(len(body))
        how = rng.choice(["flip", "cut", "splice"])
        if how == "flip":
            body[at] ^= rng.randint(1, 255)
        elif how == "cut":
            del body[at:]
        else:
            body[at:at] = rng.randbytes(rng.randint(1, 8))
    return bytes(body)


def malformed(base: bytes, refused, rng: random.Random, count: int) -> list[bytes]:
    found: list[bytes] = []
    while len(found) < count:
        candidate = rng.randbytes(rng.randint(1, 64)) if rng.random() < 0.3 else corrupt(base, rng)
        try:
            refused(candidate)
        except (BadCommand, DeadLetter):
            if candidate not in found:
                found.append(candidate)
    return found


def valid_command() -> bytes:
    return orders_pb2.OrderCommand(
        command_id="c",
        symbol="AAPL",
        accepted=orders_pb2.OrderAccepted(order_id="o", symbol="AAPL", quantity=1),
    ).SerializeToString()


def valid_report() -> bytes:
    return executions_pb2.ExecutionReport(
        execution_id="e", order_id="o", symbol="AAPL"
    ).SerializeToString()


@pytest.mark.parametrize(
    ("topic", "base", "decoder"),
    [("orders", valid_command, decode_command), ("executions", valid_report, decode_report)],
)
def test_malformed_events_go_to_the_dead_letter_topic(tls_mesh, tls_stack, topic, base, decoder):
    env = tls_stack.env()
    security = client_security(env)
    bootstrap = env["TRADEMESH_KAFKA_BOOTSTRAP"]
    rng = random.Random(f"{topic}-dead-letters")
    marker = uuid.uuid4().hex.encode()
    records = malformed(base(), decoder, rng, RECORDS_PER_TOPIC)
    producer = Producer({"bootstrap.servers": bootstrap, **security})
    for i, value in enumerate(records):
        producer.produce(topic, value=value, key=b"AAPL", headers=[("x-fuzz", marker + b"%d" % i)])
    assert producer.flush(30) == 0

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"dlq-check-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            **security,
        }
    )
    consumer.subscribe([topic + ".dlq"])
    pending = {marker + b"%d" % i: value for i, value in enumerate(records)}
    deadline = time.monotonic() + 60
    try:
        while pending and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error() is not None:
                continue
            headers = dict(message.headers() or [])
            tag = headers.get("x-fuzz")
            if tag in pending:
                assert message.value() == pending.pop(tag)
                assert headers["x-dead-letter-reason"]
                assert headers["x-source-topic"] == topic.encode()
    finally:
        consumer.close()
    assert not pending, f"{len(pending)} of {len(records)} malformed records never reached the DLQ"
    assert all(
        service.process and service.process.alive() for service in tls_mesh.services.values()
    )
