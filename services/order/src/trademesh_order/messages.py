"""Domain records as the protobuf messages of the OrderService API and the order-updates topic.

Prices and money leave as decimal strings in positional notation.
"""

from decimal import Decimal

from trademesh.events.v1 import order_updates_pb2
from trademesh.order.v1 import order_pb2
from trademesh_order.decimals import format_decimal, format_money
from trademesh_order.instruments import Instrument
from trademesh_order.orders import Account, Fill, Order, Position
from trademesh_order.states import OrderStatus
from trademesh_order.timestamps import to_us

_STATUSES = {
    OrderStatus.PENDING_NEW: order_pb2.ORDER_STATUS_PENDING_NEW,
    OrderStatus.NEW: order_pb2.ORDER_STATUS_NEW,
    OrderStatus.PARTIALLY_FILLED: order_pb2.ORDER_STATUS_PARTIALLY_FILLED,
    OrderStatus.FILLED: order_pb2.ORDER_STATUS_FILLED,
    OrderStatus.CANCELLED: order_pb2.ORDER_STATUS_CANCELLED,
    OrderStatus.REJECTED: order_pb2.ORDER_STATUS_REJECTED,
}


def _optional(value: Decimal | None) -> str:
    return "" if value is None else format_decimal(value)


def order_message(order: Order) -> order_pb2.Order:
    return order_pb2.Order(
        order_id=order.order_id,
        user_id=order.user_id,
        client_order_id=order.client_order_id or "",
        symbol=order.symbol,
        side=order.side.value,
        type=order.type.value,
        time_in_force=order.time_in_force.value,
        quantity=order.quantity,
        price=_optional(order.price),
        status=_STATUSES[order.status],
        filled_quantity=order.filled_quantity,
        average_fill_price=_optional(order.average_fill_price),
        reason=order.reason,
        created_at_us=to_us(order.created_at),
        updated_at_us=to_us(order.updated_at),
    )


def fill_message(fill: Fill) -> order_pb2.Fill:
    return order_pb2.Fill(
        execution_id=fill.execution_id,
        order_id=fill.order_id,
        trade_id=fill.trade_id,
        symbol=fill.symbol,
        side=fill.side.value,
        quantity=fill.quantity,
        price=format_decimal(fill.price),
        liquidity=fill.liquidity,
        created_at_us=to_us(fill.created_at),
    )


def positions_message(
    account: Account, positions: list[Position]
) -> order_pb2.GetPositionsResponse:
    return order_pb2.GetPositionsResponse(
        cash=format_money(account.cash),
        reserved_cash=format_money(account.reserved_cash),
        positions=[
            order_pb2.Position(
                symbol=position.symbol,
                quantity=position.quantity,
                reserved_quantity=position.reserved_quantity,
                average_price=format_decimal(position.average_price),
            )
            for position in positions
        ],
    )


def instrument_message(instrument: Instrument) -> order_pb2.Instrument:
    return order_pb2.Instrument(
        symbol=instrument.symbol,
        tick_size=format_decimal(instrument.tick_size),
        lot_size=instrument.lot_size,
        reference_price=instrument.format_price(instrument.reference_price),
        last_price=(
            "" if instrument.last_price is None else instrument.format_price(instrument.last_price)
        ),
        price_band_percent=instrument.price_band_percent,
    )


def order_update(
    order: Order, execution_id: str, fill: Fill | None
) -> order_updates_pb2.OrderUpdate:
    update = order_updates_pb2.OrderUpdate(
        user_id=order.user_id, order=order_message(order), execution_id=execution_id
    )
    if fill is not None:
        update.fill.CopyFrom(fill_message(fill))
    return update
