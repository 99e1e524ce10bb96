"""OrderCommand records for the `orders` topic: what matching is asked to do.

Prices go to matching as integer ticks of the instrument's tick size.
"""

import uuid
from decimal import Decimal

from trademesh.events.v1 import orders_pb2
from trademesh_order.instruments import Instrument
from trademesh_order.orders import NewOrder, Order, OrderType, Side, TimeInForce
from trademesh_order.timestamps import now_us

_SIDES = {Side.BUY: orders_pb2.SIDE_BUY, Side.SELL: orders_pb2.SIDE_SELL}
_TYPES = {
    OrderType.LIMIT: orders_pb2.ORDER_TYPE_LIMIT,
    OrderType.MARKET: orders_pb2.ORDER_TYPE_MARKET,
}
_TIMES_IN_FORCE = {
    TimeInForce.GTC: orders_pb2.TIME_IN_FORCE_GTC,
    TimeInForce.IOC: orders_pb2.TIME_IN_FORCE_IOC,
    TimeInForce.FOK: orders_pb2.TIME_IN_FORCE_FOK,
}


def new_command_id() -> str:
    return uuid.uuid4().hex


def order_accepted(order: Order, instrument: Instrument) -> orders_pb2.OrderCommand:
    return new_order_accepted(
        order.order_id, order.command_id, order, order.limit_price, instrument
    )


def new_order_accepted(
    order_id: str,
    command_id: str,
    order: NewOrder | Order,
    limit_price: Decimal,
    instrument: Instrument,
) -> orders_pb2.OrderCommand:
    """The command for an order about to be stored: everything it says is known before."""
    return orders_pb2.OrderCommand(
        command_id=command_id,
        symbol=order.symbol,
        created_at_us=now_us(),
        accepted=orders_pb2.OrderAccepted(
            order_id=order_id,
            user_id=order.user_id,
            symbol=order.symbol,
            side=_SIDES[order.side],
            type=_TYPES[order.type],
            time_in_force=_TIMES_IN_FORCE[order.time_in_force],
            quantity=order.quantity,
            # A market order carries its protection price: the worst it may trade at.
            price_ticks=instrument.to_ticks(limit_price),
        ),
    )


def cancel_requested(order: Order) -> orders_pb2.OrderCommand:
    return orders_pb2.OrderCommand(
        command_id=new_command_id(),
        symbol=order.symbol,
        created_at_us=now_us(),
        cancel=orders_pb2.CancelRequested(
            order_id=order.order_id, user_id=order.user_id, symbol=order.symbol
        ),
    )
