"""What an order must set aside before it may reach the book, and whether the account has it.

Pure. A buy reserves cash at the worst price it can trade at (its limit, or
a market order's protection price), so every fill is covered; a sell reserves
the position it will deliver.
"""

from dataclasses import dataclass
from decimal import Decimal

from trademesh_order.decimals import ceil_to_step, floor_to_step, format_money
from trademesh_order.errors import RiskRejected
from trademesh_order.instruments import Instrument
from trademesh_order.orders import NewOrder, OrderType, Side


@dataclass(frozen=True)
class Reservation:
    # The price sent to matching: the worst the order may trade at.
    limit_price: Decimal
    cash: Decimal
    quantity: int


def protection_price(instrument: Instrument, side: Side) -> Decimal:
    """A market order's worst acceptable price: the band edge on its side, rounded to the
    tick towards the band's inside, and never below one tick."""
    band = instrument.price_band()
    if side is Side.BUY:
        return floor_to_step(band.high, instrument.tick_size)
    return max(ceil_to_step(band.low, instrument.tick_size), instrument.tick_size)


def reservation_for(order: NewOrder, instrument: Instrument) -> Reservation:
    if order.type is OrderType.MARKET:
        limit_price = protection_price(instrument, order.side)
    else:
        assert order.price is not None, "validation guarantees a limit order's price"
        limit_price = order.price
    limit_price = limit_price.quantize(instrument.price_quantum)
    if order.side is Side.BUY:
        return Reservation(limit_price, cash=limit_price * order.quantity, quantity=0)
    return Reservation(limit_price, cash=Decimal(0), quantity=order.quantity)


def check_cash(needed: Decimal, available: Decimal) -> None:
    if needed > available:
        raise RiskRejected(
            "insufficient_cash",
            f"insufficient cash: need {format_money(needed)}, available {format_money(available)}",
        )


def check_position(
    symbol: str, needed: int, held: int, reserved: int, *, allow_short: bool
) -> None:
    available = held - reserved
    if allow_short or needed <= available:
        return
    raise RiskRejected(
        "insufficient_position",
        f"insufficient position in {symbol}: need {needed}, available {max(available, 0)} "
        f"(held {held}, reserved for open sells {reserved})",
    )
