"""Turns a PlaceOrderRequest into a typed, rule-abiding NewOrder, or says precisely why not.

Pure: the caller looks the instrument up and passes it in (None when the
symbol is not listed). Checks run in field order and the first failure wins.
"""

from decimal import Decimal
from typing import TypeVar

from trademesh.order.v1 import order_pb2
from trademesh_order.decimals import format_decimal, is_multiple, parse_plain_decimal
from trademesh_order.errors import InvalidOrder, InvalidRequest
from trademesh_order.instruments import Instrument
from trademesh_order.orders import NewOrder, OrderType, Side, TimeInForce

CLIENT_ORDER_ID_MAX_LENGTH = 64
USER_ID_MAX_LENGTH = 128
# Client text echoed in a reason is cut to this length.
_ECHO_MAX_LENGTH = 40


def _echo(text: str) -> str:
    shown = text if len(text) <= _ECHO_MAX_LENGTH else text[:_ECHO_MAX_LENGTH] + "..."
    return repr(shown)


def _is_printable_ascii(text: str) -> bool:
    return all(" " <= character <= "~" for character in text)


def validate_user_id(user_id: str) -> str:
    """For every request: the gateway passes the authenticated user's id."""
    if not user_id:
        raise InvalidRequest("user_id is required")
    if len(user_id) > USER_ID_MAX_LENGTH or not _is_printable_ascii(user_id):
        raise InvalidRequest(
            f"user_id must be at most {USER_ID_MAX_LENGTH} printable ASCII characters"
        )
    return user_id


_Choice = TypeVar("_Choice", Side, OrderType, TimeInForce)


def _choice(field: str, value: str, choices: type[_Choice]) -> _Choice:
    allowed = ", ".join(member.value for member in choices)
    if not value:
        raise InvalidOrder(field, f"{field} is required: one of {allowed}")
    try:
        return choices(value)
    except ValueError:
        raise InvalidOrder(field, f"{field} {_echo(value)} is not one of {allowed}") from None


def _validate_quantity(quantity: int, instrument: Instrument) -> int:
    if quantity <= 0:
        raise InvalidOrder("quantity", f"quantity must be positive, got {quantity}")
    if quantity % instrument.lot_size != 0:
        raise InvalidOrder(
            "quantity",
            f"quantity {quantity} is not a multiple of the lot size {instrument.lot_size}",
        )
    return quantity


def _validate_price(text: str, order_type: OrderType, instrument: Instrument) -> Decimal | None:
    if order_type is OrderType.MARKET:
        if text:
            raise InvalidOrder("price", "a market order must not have a price")
        return None
    if not text:
        raise InvalidOrder("price", "price is required for a limit order")
    price = parse_plain_decimal(text)
    if price is None:
        raise InvalidOrder(
            "price", f"price {_echo(text)} is not a plain decimal number such as 101.25"
        )
    if price <= 0:
        raise InvalidOrder("price", f"price must be positive, got {text}")
    if not is_multiple(price, instrument.tick_size):
        raise InvalidOrder(
            "price",
            f"price {text} is not a multiple of the tick size "
            f"{format_decimal(instrument.tick_size)}",
        )
    band = instrument.price_band()
    if not band.contains(price):
        raise InvalidOrder(
            "price_band",
            f"price {text} is outside the price band {instrument.format_price(band.low)} to "
            f"{instrument.format_price(band.high)} ({band.percent}% around the "
            f"{band.anchor_name} {instrument.format_price(band.anchor)})",
        )
    # On the tick grid from here on: "101.5" is kept as 101.50.
    return price.quantize(instrument.price_quantum)


def _validate_client_order_id(client_order_id: str) -> str | None:
    if not client_order_id:
        return None
    if len(client_order_id) > CLIENT_ORDER_ID_MAX_LENGTH:
        raise InvalidOrder(
            "client_order_id",
            f"client_order_id must be at most {CLIENT_ORDER_ID_MAX_LENGTH} characters, "
            f"got {len(client_order_id)}",
        )
    if not _is_printable_ascii(client_order_id):
        raise InvalidOrder(
            "client_order_id", "client_order_id must contain only printable ASCII characters"
        )
    return client_order_id


def validate_order(request: order_pb2.PlaceOrderRequest, instrument: Instrument | None) -> NewOrder:
    """Raises InvalidOrder with the first broken rule."""
    try:
        user_id = validate_user_id(request.user_id)
    except InvalidRequest as invalid:
        raise InvalidOrder("user_id", invalid.reason) from None
    if not request.symbol:
        raise InvalidOrder("symbol", "symbol is required")
    if instrument is None or instrument.symbol != request.symbol:
        raise InvalidOrder("symbol", f"symbol {_echo(request.symbol)} is not listed")
    side = _choice("side", request.side, Side)
    order_type = _choice("type", request.type, OrderType)
    time_in_force = _choice("time_in_force", request.time_in_force, TimeInForce)
    quantity = _validate_quantity(request.quantity, instrument)
    price = _validate_price(request.price, order_type, instrument)
    client_order_id = _validate_client_order_id(request.client_order_id)
    return NewOrder(
        user_id=user_id,
        symbol=instrument.symbol,
        side=side,
        type=order_type,
        time_in_force=time_in_force,
        quantity=quantity,
        price=price,
        client_order_id=client_order_id,
    )
