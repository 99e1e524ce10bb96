from decimal import Decimal

from trademesh_order.ledger import Holding, average_fill_price, fill_effect, holding_after_fill
from trademesh_order.orders import Side

D = Decimal


def test_a_buy_fill_pays_the_trade_price_and_releases_the_reservation_at_the_limit():
    effect = fill_effect(Side.BUY, 10, D("99.50"), limit_price=D("100.00"))
    assert effect.cash_change == D("-995.00")
    assert effect.reserved_cash_release == D("1000.00")
    assert effect.position_change == 10
    assert effect.reserved_quantity_release == 0


def test_a_sell_fill_delivers_the_position_and_credits_the_proceeds():
    effect = fill_effect(Side.SELL, 4, D("101.25"), limit_price=D("100.00"))
    assert effect.cash_change == D("405.00")
    assert effect.reserved_cash_release == 0
    assert effect.position_change == -4
    assert effect.reserved_quantity_release == 4


def test_buying_into_a_long_averages_the_cost():
    after = holding_after_fill(Holding(100, D("10.00")), Side.BUY, 100, D("11.00"))
    assert after == Holding(200, D("10.50"))


def test_buying_from_flat_costs_the_fill_price():
    assert holding_after_fill(Holding(0, D("0")), Side.BUY, 5, D("190.10")) == Holding(
        5, D("190.10")
    )


def test_selling_part_of_a_long_keeps_its_average():
    after = holding_after_fill(Holding(100, D("10.50")), Side.SELL, 30, D("12.00"))
    assert after == Holding(70, D("10.50"))


def test_selling_it_all_leaves_nothing_at_no_cost():
    assert holding_after_fill(Holding(70, D("10.50")), Side.SELL, 70, D("9.00")) == Holding(
        0, D("0")
    )


def test_selling_through_zero_starts_a_short_at_the_fill_price():
    assert holding_after_fill(Holding(10, D("10.00")), Side.SELL, 15, D("12.00")) == Holding(
        -5, D("12.00")
    )


def test_adding_to_a_short_averages_its_price():
    after = holding_after_fill(Holding(-10, D("12.00")), Side.SELL, 10, D("14.00"))
    assert after == Holding(-20, D("13.00"))


def test_covering_part_of_a_short_keeps_its_average():
    assert holding_after_fill(Holding(-20, D("13.00")), Side.BUY, 5, D("1.00")) == Holding(
        -15, D("13.00")
    )


def test_averages_keep_the_price_places_and_at_most_eight_more():
    after = holding_after_fill(Holding(1, D("100.00")), Side.BUY, 2, D("100.01"))
    assert after.average_price == D("100.00666667")
    evenly = holding_after_fill(Holding(1, D("100.00")), Side.BUY, 1, D("101.00"))
    assert str(evenly.average_price) == "100.50"


def test_the_average_fill_price_comes_from_the_exact_notional():
    assert average_fill_price(D("300.03"), 3, D("100.01")) == D("100.01")
    assert average_fill_price(D("200.01"), 2, D("100.01")) == D("100.005")
    assert str(average_fill_price(D("200.00"), 2, D("100.00"))) == "100.00"
