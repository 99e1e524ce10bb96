"""Protobuf messages from the services -> the public API's models.

Empty proto3 strings become null and enum names become lower-case words, so the
public API does not leak protobuf conventions.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from trademesh.matching.v1 import matching_pb2
from trademesh.order.v1 import order_pb2
from trademesh_gateway.prices import ticks_to_price
from trademesh_gateway.schemas.market import BookLevel, OrderBook, Trade
from trademesh_gateway.schemas.orders import (
    Fill,
    Order,
    OrderPage,
    OrderStatus,
    Position,
    Positions,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_STATUSES = {
    order_pb2.ORDER_STATUS_PENDING_NEW: OrderStatus.PENDING_NEW,
    order_pb2.ORDER_STATUS_NEW: OrderStatus.NEW,
    order_pb2.ORDER_STATUS_PARTIALLY_FILLED: OrderStatus.PARTIALLY_FILLED,
    order_pb2.ORDER_STATUS_FILLED: OrderStatus.FILLED,
    order_pb2.ORDER_STATUS_CANCELLED: OrderStatus.CANCELLED,
    order_pb2.ORDER_STATUS_REJECTED: OrderStatus.REJECTED,
}


class UpstreamContractError(Exception):
    """A service answered with something its contract rules out (a bug there, not here)."""


def timestamp_from_micros(micros: int) -> datetime:
    # Integer arithmetic: a float division would lose microseconds.
    return _EPOCH + timedelta(microseconds=micros)


def _optional(text: str) -> str | None:
    return text or None


def order_from_proto(order: order_pb2.Order) -> Order:
    try:
        status = _STATUSES[order.status]
    except KeyError:
        raise UpstreamContractError(f"order {order.order_id} has status {order.status}") from None
    return Order(
        order_id=order.order_id,
        client_order_id=_optional(order.client_order_id),
        symbol=order.symbol,
        side=order.side,  # type: ignore[arg-type]  # validated by the model
        type=order.type,  # type: ignore[arg-type]
        time_in_force=order.time_in_force,  # type: ignore[arg-type]
        quantity=order.quantity,
        price=_optional(order.price),
        status=status,
        filled_quantity=order.filled_quantity,
        average_fill_price=_optional(order.average_fill_price),
        reason=_optional(order.reason),
        created_at=timestamp_from_micros(order.created_at_us),
        updated_at=timestamp_from_micros(order.updated_at_us),
    )


def order_page_from_proto(response: order_pb2.ListOrdersResponse) -> OrderPage:
    return OrderPage(
        orders=[order_from_proto(order) for order in response.orders],
        next_page_token=_optional(response.next_page_token),
    )


def fill_from_proto(fill: order_pb2.Fill) -> Fill:
    return Fill(
        execution_id=fill.execution_id,
        order_id=fill.order_id,
        trade_id=fill.trade_id,
        symbol=fill.symbol,
        side=fill.side,  # type: ignore[arg-type]
        quantity=fill.quantity,
        price=fill.price,
        liquidity=fill.liquidity,  # type: ignore[arg-type]
        created_at=timestamp_from_micros(fill.created_at_us),
    )


def positions_from_proto(response: order_pb2.GetPositionsResponse) -> Positions:
    return Positions(
        cash=response.cash,
        reserved_cash=response.reserved_cash,
        positions=[
            Position(
                symbol=position.symbol,
                quantity=position.quantity,
                reserved_quantity=position.reserved_quantity,
                average_price=_optional(position.average_price),
            )
            for position in response.positions
        ],
    )


def _levels(levels: list[matching_pb2.PriceLevel], tick_size: Decimal) -> list[BookLevel]:
    return [
        BookLevel(
            price=ticks_to_price(level.price_ticks, tick_size),
            quantity=level.quantity,
            order_count=level.order_count,
        )
        for level in levels
    ]


def book_from_proto(depth: matching_pb2.GetDepthResponse, tick_size: Decimal) -> OrderBook:
    return OrderBook(
        symbol=depth.symbol,
        bids=_levels(list(depth.bids), tick_size),
        asks=_levels(list(depth.asks), tick_size),
        sequence=depth.sequence,
    )


def trade_from_proto(trade: matching_pb2.TradeRecord, tick_size: Decimal) -> Trade:
    return Trade(
        trade_id=trade.trade_id,
        symbol=trade.symbol,
        price=ticks_to_price(trade.price_ticks, tick_size),
        quantity=trade.quantity,
        aggressor_side=trade.aggressor_side,  # type: ignore[arg-type]
        created_at=timestamp_from_micros(trade.created_at_us),
    )
