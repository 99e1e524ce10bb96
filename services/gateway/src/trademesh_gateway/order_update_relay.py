"""Kafka `order-updates` -> the WebSocket fan-out of this gateway process.

Every gateway process must see every update, because a user's connections may be
on any of them: so each process consumes in a consumer group of its own, from the
latest offset (a push is only useful live), and never commits (a restarted process
starts over at "now" under a new group id anyway).
"""

import logging
import uuid

from confluent_kafka import Message
from google.protobuf.message import DecodeError
from opentelemetry import trace

from trademesh.events.v1 import order_updates_pb2
from trademesh_common.kafka import AsyncBatchConsumer, Topics, consumer_config
from trademesh_common.telemetry import context_from_kafka_headers
from trademesh_gateway.fanout import ConnectionRegistry
from trademesh_gateway.proto_mapping import UpstreamContractError
from trademesh_gateway.push_messages import push_message_for

log = logging.getLogger(__name__)
_tracer = trace.get_tracer("trademesh.gateway.push")


def order_updates_consumer(bootstrap: str) -> AsyncBatchConsumer:
    config = consumer_config(
        bootstrap,
        group_id=f"gateway-{uuid.uuid4()}",
        **{"auto.offset.reset": "latest", "enable.auto.commit": False},
    )
    return AsyncBatchConsumer(config, [Topics.ORDER_UPDATES])


def relay_record(message: Message, registry: ConnectionRegistry) -> None:
    """Pushes one record to its user's connections on this process, if there are any."""
    user_id = (message.key() or b"").decode(errors="replace")
    # Most updates belong to users connected elsewhere: skip them before decoding.
    if user_id and not registry.has_subscribers(user_id):
        return
    try:
        update = order_updates_pb2.OrderUpdate.FromString(message.value() or b"")
        text = push_message_for(update)
    except (DecodeError, UpstreamContractError, ValueError):
        log.warning(
            "skipping undecodable order update",
            extra={"partition": message.partition(), "offset": message.offset()},
            exc_info=True,
        )
        return
    with _tracer.start_as_current_span(
        "push order update",
        context=context_from_kafka_headers(message.headers()),
        kind=trace.SpanKind.CONSUMER,
        attributes={
            "trademesh.order_id": update.order.order_id,
            "trademesh.symbol": update.order.symbol,
        },
    ):
        registry.publish(update.user_id, text)


async def relay_order_updates(consumer: AsyncBatchConsumer, registry: ConnectionRegistry) -> None:
    """Runs until cancelled."""
    while True:
        for message in await consumer.poll_batch():
            relay_record(message, registry)
