from decimal import Decimal

import pytest

from trademesh_order.errors import RiskRejected
from trademesh_order.instruments import Instrument
from trademesh_order.orders import NewOrder, OrderType, Side, TimeInForce
from trademesh_order.risk import check_cash, check_position, protection_price, reservation_for

AAPL = Instrument(
    symbol="AAPL",
    tick_size=Decimal("0.01"),
    lot_size=1,
    reference_price=Decimal("190.00"),
    price_band_percent=10,
)


def order(side: Side, order_type: OrderType, quantity: int, price: str | None) -> NewOrder:
    return NewOrder(
        user_id="alice",
        symbol="AAPL",
        side=side,
        type=order_type,
        time_in_force=TimeInForce.GTC,
        quantity=quantity,
        price=None if price is None else Decimal(price),
        client_order_id=None,
    )


def test_a_limit_buy_reserves_cash_at_its_limit_price():
    reservation = reservation_for(order(Side.BUY, OrderType.LIMIT, 10, "190.50"), AAPL)
    assert reservation.limit_price == Decimal("190.50")
    assert reservation.cash == Decimal("1905.00")
    assert reservation.quantity == 0


def test_a_limit_sell_reserves_position_and_no_cash():
    reservation = reservation_for(order(Side.SELL, OrderType.LIMIT, 7, "185.00"), AAPL)
    assert reservation.limit_price == Decimal("185.00")
    assert reservation.cash == 0
    assert reservation.quantity == 7


def test_a_market_buy_reserves_cash_at_the_upper_band_edge():
    reservation = reservation_for(order(Side.BUY, OrderType.MARKET, 10, None), AAPL)
    assert reservation.limit_price == Decimal("209.00")
    assert reservation.cash == Decimal("2090.00")


def test_a_market_sell_is_protected_at_the_lower_band_edge():
    reservation = reservation_for(order(Side.SELL, OrderType.MARKET, 10, None), AAPL)
    assert reservation.limit_price == Decimal("171.00")
    assert reservation.quantity == 10


def test_protection_prices_round_inwards_to_the_tick():
    odd = Instrument(
        symbol="ODD",
        tick_size=Decimal("0.01"),
        lot_size=1,
        reference_price=Decimal("101.55"),  # band 91.395 .. 111.705
        price_band_percent=10,
    )
    assert protection_price(odd, Side.BUY) == Decimal("111.70")
    assert protection_price(odd, Side.SELL) == Decimal("91.40")
    assert str(protection_price(odd, Side.BUY)) == "111.70"


def test_protection_prices_follow_the_last_trade():
    traded = Instrument(
        symbol="AAPL",
        tick_size=Decimal("0.05"),
        lot_size=1,
        reference_price=Decimal("190.00"),
        price_band_percent=5,
        last_price=Decimal("201.10"),  # band 191.045 .. 211.155
    )
    assert protection_price(traded, Side.BUY) == Decimal("211.15")
    assert protection_price(traded, Side.SELL) == Decimal("191.05")


def test_a_sell_protection_price_is_at_least_one_tick():
    wide = Instrument(
        symbol="WIDE",
        tick_size=Decimal("0.01"),
        lot_size=1,
        reference_price=Decimal("1.00"),
        price_band_percent=100,
    )
    assert protection_price(wide, Side.SELL) == Decimal("0.01")
    assert protection_price(wide, Side.BUY) == Decimal("2.00")


def test_cash_is_enough_when_it_covers_the_reservation_exactly():
    check_cash(Decimal("1905.00"), Decimal("1905.00"))


def test_short_cash_is_refused_with_the_amounts():
    with pytest.raises(RiskRejected) as caught:
        check_cash(Decimal("2090.00"), Decimal("1000"))
    assert caught.value.reason == "insufficient cash: need 2090.00, available 1000.00"
    assert caught.value.category == "insufficient_cash"


def test_a_sell_within_the_unreserved_position_passes():
    check_position("AAPL", 40, held=100, reserved=60, allow_short=False)


def test_a_sell_beyond_the_unreserved_position_is_refused():
    with pytest.raises(RiskRejected) as caught:
        check_position("AAPL", 41, held=100, reserved=60, allow_short=False)
    assert caught.value.reason == (
        "insufficient position in AAPL: need 41, available 40 "
        "(held 100, reserved for open sells 60)"
    )
    assert caught.value.category == "insufficient_position"


def test_short_selling_when_allowed():
    check_position("AAPL", 10, held=0, reserved=0, allow_short=True)
