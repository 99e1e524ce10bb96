"""How a fill moves an account's cash, reservations and position. Pure arithmetic on Decimals.

A buy reserved cash at its limit price; each fill pays the actual trade price
and releases the reservation at the limit price, so price improvement flows
back to available cash. A sell reserved position quantity; each fill delivers
it and credits the proceeds.
"""

from dataclasses import dataclass
from decimal import Decimal

from trademesh_order.decimals import tidy
from trademesh_order.orders import Side

# Average prices are kept at up to this many places.
AVERAGE_PRICE_PLACES = 8


@dataclass(frozen=True)
class FillEffect:
    cash_change: Decimal
    reserved_cash_release: Decimal
    position_change: int
    reserved_quantity_release: int


def fill_effect(side: Side, quantity: int, price: Decimal, limit_price: Decimal) -> FillEffect:
    notional = price * quantity
    if side is Side.BUY:
        return FillEffect(
            cash_change=-notional,
            reserved_cash_release=limit_price * quantity,
            position_change=quantity,
            reserved_quantity_release=0,
        )
    return FillEffect(
        cash_change=notional,
        reserved_cash_release=Decimal(0),
        position_change=-quantity,
        reserved_quantity_release=quantity,
    )


@dataclass(frozen=True)
class Holding:
    quantity: int
    average_price: Decimal


def _average(total_cost: Decimal, quantity: int, price: Decimal) -> Decimal:
    # Keep at least the places of the fill price ("100.00"), more when the mean needs them.
    exponent = price.as_tuple().exponent
    assert isinstance(exponent, int)
    return tidy(total_cost / quantity, max(0, -exponent), AVERAGE_PRICE_PLACES)


def holding_after_fill(holding: Holding, side: Side, quantity: int, price: Decimal) -> Holding:
    """Average cost of what is held: adding to a position (long or short) averages in the
    fill, reducing it keeps the average, and flipping through zero starts at the fill price."""
    change = quantity if side is Side.BUY else -quantity
    before = holding.quantity
    after = before + change
    if after == 0:
        return Holding(0, Decimal(0))
    if before == 0 or (before > 0) == (change > 0):
        total_cost = abs(before) * holding.average_price + quantity * price
        return Holding(after, _average(total_cost, abs(after), price))
    if (before > 0) == (after > 0):
        return Holding(after, holding.average_price)
    return Holding(after, price)


def average_fill_price(filled_notional: Decimal, filled_quantity: int, price: Decimal) -> Decimal:
    """Mean price of an order's fills from their exact total (no drift from re-averaging);
    `price` is the latest fill's, for its places."""
    return _average(filled_notional, filled_quantity, price)
