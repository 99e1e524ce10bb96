"""Kafka records on `order-updates` -> push messages for the right user."""

import json
import logging

from confluent_kafka import Message

from trademesh.events.v1 import order_updates_pb2
from trademesh.order.v1 import order_pb2
from trademesh_gateway import order_update_relay
from trademesh_gateway.fanout import ConnectionRegistry
from trademesh_gateway.order_update_relay import order_updates_consumer, relay_record

CREATED_US = 1_714_657_512_345_678


class RecordingRegistry(ConnectionRegistry):
    def __init__(self) -> None:
        super().__init__(queue_size=4)
        self.published: list[tuple[str, dict]] = []

    def publish(self, user_id: str, text: str) -> int:
        self.published.append((user_id, json.loads(text)))
        return 1


class IdleSink:
    async def send_text(self, text: str) -> None: ...
    async def wait_closed(self) -> None: ...
    async def close(self, code: int, reason: str) -> None: ...


def an_order(**fields) -> order_pb2.Order:
    values = {
        "order_id": "ord-1",
        "user_id": "alice",
        "symbol": "ACME",
        "side": "buy",
        "type": "limit",
        "time_in_force": "gtc",
        "quantity": 100,
        "price": "101.25",
        "status": order_pb2.ORDER_STATUS_PARTIALLY_FILLED,
        "filled_quantity": 40,
        "average_fill_price": "101.20",
        "created_at_us": CREATED_US,
        "updated_at_us": CREATED_US,
    }
    values.update(fields)
    return order_pb2.Order(**values)


def record(update: order_updates_pb2.OrderUpdate | bytes, key: str = "alice") -> Message:
    value = update if isinstance(update, bytes) else update.SerializeToString()
    return Message(topic="order-updates", partition=0, offset=7, key=key.encode(), value=value)


def subscribed_registry(*user_ids: str) -> RecordingRegistry:
    registry = RecordingRegistry()
    for user_id in user_ids:
        registry.register(user_id, IdleSink())
    return registry


def test_an_update_caused_by_a_fill_becomes_a_fill_message():
    registry = subscribed_registry("alice")
    update = order_updates_pb2.OrderUpdate(
        user_id="alice",
        order=an_order(),
        fill=order_pb2.Fill(
            execution_id="exec-1",
            order_id="ord-1",
            trade_id="trade-1",
            symbol="ACME",
            side="buy",
            quantity=40,
            price="101.20",
            liquidity="taker",
            created_at_us=CREATED_US,
        ),
        execution_id="exec-1",
    )

    relay_record(record(update), registry)

    [(user_id, message)] = registry.published
    assert user_id == "alice"
    assert message["type"] == "fill"
    assert message["fill"]["trade_id"] == "trade-1"
    assert message["fill"]["price"] == "101.20"
    assert message["order"]["status"] == "partially_filled"
    assert message["order"]["filled_quantity"] == 40


def test_an_update_without_a_fill_becomes_an_order_message():
    registry = subscribed_registry("alice")
    update = order_updates_pb2.OrderUpdate(
        user_id="alice",
        order=an_order(status=order_pb2.ORDER_STATUS_CANCELLED, reason="cancelled by user"),
    )

    relay_record(record(update), registry)

    [(_, message)] = registry.published
    assert set(message) == {"type", "order"}
    assert message["order"]["status"] == "cancelled"
    assert message["order"]["reason"] == "cancelled by user"


def test_updates_for_users_not_connected_here_are_skipped():
    registry = subscribed_registry("alice")
    update = order_updates_pb2.OrderUpdate(user_id="bob", order=an_order(user_id="bob"))

    relay_record(record(update, key="bob"), registry)

    assert registry.published == []


def test_an_undecodable_record_is_logged_and_skipped(caplog):
    registry = subscribed_registry("alice")

    with caplog.at_level(logging.WARNING):
        relay_record(record(b"\xff\xff not protobuf"), registry)
        relay_record(
            record(order_updates_pb2.OrderUpdate(user_id="alice", order=an_order(status=0))),
            registry,
        )

    assert registry.published == []
    assert caplog.text.count("skipping undecodable order update") == 2


def test_each_gateway_process_consumes_everything_from_now_in_its_own_group(monkeypatch):
    created = []

    def fake_consumer(config, topics):
        created.append((config, topics))

    monkeypatch.setattr(order_update_relay, "AsyncBatchConsumer", fake_consumer)

    order_updates_consumer("kafka:9092")
    order_updates_consumer("kafka:9092")

    (first, topics), (second, _) = created
    assert topics == ["order-updates"]
    assert first["group.id"].startswith("gateway-")
    assert first["group.id"] != second["group.id"]
    assert first["auto.offset.reset"] == "latest"
    assert first["enable.auto.commit"] is False
    assert first["bootstrap.servers"] == "kafka:9092"
