"""OrderUpdate events -> the JSON messages WebSocket clients receive."""

from trademesh.events.v1 import order_updates_pb2
from trademesh_gateway.proto_mapping import fill_from_proto, order_from_proto
from trademesh_gateway.schemas.push import FillMessage, OrderMessage


def push_message_for(update: order_updates_pb2.OrderUpdate) -> str:
    """A `fill` message when a fill caused the update, an `order` message otherwise."""
    order = order_from_proto(update.order)
    if update.HasField("fill"):
        return FillMessage(fill=fill_from_proto(update.fill), order=order).model_dump_json()
    return OrderMessage(order=order).model_dump_json()
