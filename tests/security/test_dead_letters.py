"""Malformed events on real Kafka (over mutual TLS) reach the dead-letter topics.

A seeded corpus of broken records (random bytes, and valid records with flipped,
cut or spliced bytes) that the consumer's own decoder refuses, produced to
`orders` (matching), `executions` (order) and `marketdata` (market); each must come
out on `<topic>.dlq` with a reason while the services keep running. `marketdata` also
gets records that decode but could not be stored (a NUL in the trade id, a time past
the year 9999): after them a good trade must still reach the quote, so they did not
stall the partition.
"""

import asyncio
import random
import time
import uuid
from decimal import Decimal

import pytest
from confluent_kafka import Consumer, Producer

from tests.conftest import DEADLINE_SECONDS, Trader
from trademesh.events.v1 import executions_pb2, marketdata_pb2, orders_pb2
from trademesh_devstack.kafka import client_security
from trademesh_market.marketdata import MAX_TIME_US, BadEvent, decode
from trademesh_market.store import Instrument
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
        except (BadCommand, DeadLetter, BadEvent):
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


# What the market service lists (its migration's sample): a corrupted record must be
# refused for what it is, not for naming a symbol this copy does not know.
LISTED = {
    symbol: Instrument(symbol, symbol, "", "USD", Decimal("0.01"), 1, Decimal("100"))
    for symbol in ("AAPL", "MSFT", "GOOGL", "AMZN", "NVDA", "META", "TSLA", "JPM", "V", "KO")
}


def marketdata_trade(trade_id: str, price_ticks: int, at_us: int, symbol: str = "AAPL") -> bytes:
    return marketdata_pb2.MarketDataEvent(
        symbol=symbol,
        trade=marketdata_pb2.Trade(
            trade_id=trade_id,
            symbol=symbol,
            price_ticks=price_ticks,
            quantity=1,
            created_at_us=at_us,
        ),
    ).SerializeToString()


def valid_marketdata() -> bytes:
    return marketdata_trade("t", 15000, time.time_ns() // 1000)


def decode_marketdata(raw: bytes) -> None:
    decode(raw, LISTED)


def unstorable_marketdata() -> list[bytes]:
    """Decodable, well-typed, and impossible to store: refused, never retried forever."""
    now_us = time.time_ns() // 1000
    return [
        marketdata_trade("nul\x00id", 15000, now_us),
        marketdata_trade("x" * 4000, 15000, now_us),
        marketdata_trade("far-future", 15000, MAX_TIME_US + 1),
        marketdata_trade("int64-max", 15000, 2**63 - 1),
    ]


@pytest.mark.parametrize(
    ("topic", "base", "decoder"),
    [
        ("orders", valid_command, decode_command),
        ("executions", valid_report, decode_report),
        ("marketdata", valid_marketdata, decode_marketdata),
    ],
)
async def test_malformed_events_go_to_the_dead_letter_topic(
    tls_mesh, tls_stack, topic, base, decoder
):
    env = tls_stack.env()
    security = client_security(env)
    bootstrap = env["TRADEMESH_KAFKA_BOOTSTRAP"]
    rng = random.Random(f"{topic}-dead-letters")
    marker = uuid.uuid4().hex.encode()
    records = malformed(base(), decoder, rng, RECORDS_PER_TOPIC)
    if topic == "marketdata":
        records += unstorable_marketdata()
    producer = Producer({"bootstrap.servers": bootstrap, **security})
    for i, value in enumerate(records):
        producer.produce(topic, value=value, key=b"AAPL", headers=[("x-fuzz", marker + b"%d" % i)])
    if topic == "marketdata":
        # Same key, so same partition, after every bad record.
        good = marketdata_trade(uuid.uuid4().hex, 6123, time.time_ns() // 1000, symbol="KO")
        producer.produce(topic, value=good, key=b"AAPL")
    assert producer.flush(30) == 0
    if topic == "marketdata":
        await the_quote_shows(tls_mesh, "KO", "61.23")

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


async def the_quote_shows(mesh, symbol: str, last: str) -> None:
    trader = Trader(mesh.gateway_url, "quote-reader")
    try:
        await trader.sign_up()
        deadline = time.monotonic() + DEADLINE_SECONDS
        while True:
            quote = (await trader.http.get(f"/market/{symbol}/quote")).json()
            if quote.get("last") == last or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        assert quote.get("last") == last, quote
    finally:
        await trader.close()
