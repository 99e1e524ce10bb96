"""Bad input at the edge gets a 4xx with a reason; a bad record on `orders` is dead-lettered
and matching carries on."""

import asyncio
import time
import uuid

import pytest
from confluent_kafka import Consumer, Producer

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (dict(symbol="AAPL", side="buy", type="limit", quantity=1, price="150.001"), 400, "tick"),
        (
            dict(symbol="AAPL", side="buy", type="limit", quantity=0, price="150.00"),
            400,
            "quantity",
        ),
        (
            dict(symbol="AAPL", side="buy", type="limit", quantity=-5, price="150.00"),
            400,
            "quantity",
        ),
        (dict(symbol="NOPE", side="buy", type="limit", quantity=1, price="1.00"), 400, "NOPE"),
        (dict(symbol="AAPL", side="buy", type="limit", quantity=1), 400, "price"),
        (dict(symbol="AAPL", side="buy", type="limit", quantity=1, price="9999.00"), 400, "band"),
    ],
)
async def test_invalid_orders_are_refused_with_a_reason(traders, body, status, reason):
    trader = await traders("bad")
    response = await trader.http.post("/orders", json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert reason.lower() in error["message"].lower()
    assert error["request_id"]


async def test_malformed_json_is_refused_with_a_reason(traders):
    trader = await traders("bad")
    response = await trader.http.post(
        "/orders", content=b'{"symbol": "AAPL", ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "json" in response.json()["error"]["message"].lower()


async def test_a_malformed_orders_record_is_dead_lettered_and_matching_carries_on(mesh, traders):
    bootstrap = mesh.services["matching"].env["TRADEMESH_KAFKA_BOOTSTRAP"]
    marker = uuid.uuid4().hex.encode()
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce("orders", key=b"KO", value=b"\x08\x96\x01 not an order " + marker)
    producer.flush(10)

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-dlq-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
        }
    )
    consumer.subscribe(["orders.dlq"])
    found = None
    deadline = time.monotonic() + 30
    while found is None and time.monotonic() < deadline:
        message = await asyncio.to_thread(consumer.poll, 0.5)
        if message is not None and message.error() is None and marker in message.value():
            found = message
    consumer.close()
    assert found is not None, "the malformed record never reached orders.dlq"
    headers = dict(found.headers())
    assert headers["x-source-topic"] == b"orders"
    assert headers["x-dead-letter-reason"]

    # Matching is still matching.
    seller, buyer = await traders("seller"), await traders("buyer")
    await seller.place(symbol="KO", side="sell", type="limit", quantity=1, price="60.00")
    bid = await buyer.place(symbol="KO", side="buy", type="limit", quantity=1, price="60.00")
    order = await buyer.wait_for_order(bid["order_id"], lambda o: o["status"] == "filled")
    assert order["status"] == "filled"
