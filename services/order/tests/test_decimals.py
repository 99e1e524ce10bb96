from decimal import Decimal

import pytest

from trademesh_order.decimals import (
    ceil_to_step,
    floor_to_step,
    format_decimal,
    format_money,
    parse_plain_decimal,
    places,
    tidy,
)


@pytest.mark.parametrize("text", ["0", "1", "101.25", "0.0001", "123456789012345678.5"])
def test_plain_decimals_parse_exactly(text):
    assert parse_plain_decimal(text) == Decimal(text)


@pytest.mark.parametrize(
    "text", ["", "1e3", "NaN", "-1", "+1", "1.", ".1", " 1", "1 ", "inf", "1" * 19, "0." + "1" * 13]
)
def test_anything_else_is_refused(text):
    assert parse_plain_decimal(text) is None


def test_places_of_a_step():
    assert places(Decimal("0.01")) == 2
    assert places(Decimal("0.05")) == 2
    assert places(Decimal("1")) == 0
    assert places(Decimal("0.0100")) == 2


def test_rounding_to_a_step():
    assert floor_to_step(Decimal("111.705"), Decimal("0.01")) == Decimal("111.70")
    assert ceil_to_step(Decimal("91.395"), Decimal("0.01")) == Decimal("91.40")
    assert ceil_to_step(Decimal("20.01"), Decimal("0.05")) == Decimal("20.05")
    assert floor_to_step(Decimal("20.04"), Decimal("0.05")) == Decimal("20.00")


def test_tidy_keeps_the_minimum_places_and_drops_extra_zeros():
    assert str(tidy(Decimal("100"), 2)) == "100.00"
    assert str(tidy(Decimal("100.5"), 2)) == "100.50"
    assert str(tidy(Decimal("100.005000"), 2)) == "100.005"
    assert str(tidy(Decimal("1") / 3, 2)) == "0.333333"


def test_formatting_never_uses_exponents():
    assert format_decimal(Decimal("1E+6")) == "1000000"
    assert format_money(Decimal("1E+6")) == "1000000.00"
    assert format_money(Decimal("998095.5")) == "998095.50"
