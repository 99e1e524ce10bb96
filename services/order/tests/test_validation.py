from decimal import Decimal

import pytest

from trademesh.order.v1 import order_pb2
from trademesh_order.errors import InvalidOrder
from trademesh_order.instruments import Instrument
from trademesh_order.orders import OrderType, Side, TimeInForce
from trademesh_order.validation import validate_order

AAPL = Instrument(
    symbol="AAPL",
    tick_size=Decimal("0.01"),
    lot_size=1,
    reference_price=Decimal("100.00"),
    price_band_percent=10,
)
ROUND_LOTS = Instrument(
    symbol="LOTS",
    tick_size=Decimal("0.05"),
    lot_size=100,
    reference_price=Decimal("20.00"),
    price_band_percent=5,
)


def request(**overrides: object) -> order_pb2.PlaceOrderRequest:
    fields: dict[str, object] = {
        "user_id": "alice",
        "symbol": "AAPL",
        "side": "buy",
        "type": "limit",
        "time_in_force": "gtc",
        "quantity": 10,
        "price": "100.00",
    }
    fields.update(overrides)
    return order_pb2.PlaceOrderRequest(**fields)


def refusal(req: order_pb2.PlaceOrderRequest, instrument: Instrument | None = AAPL) -> InvalidOrder:
    with pytest.raises(InvalidOrder) as caught:
        validate_order(req, instrument)
    return caught.value


def test_a_valid_limit_order_becomes_a_typed_order():
    order = validate_order(request(price="101.5", client_order_id="my-1"), AAPL)
    assert order.user_id == "alice"
    assert order.symbol == "AAPL"
    assert order.side is Side.BUY
    assert order.type is OrderType.LIMIT
    assert order.time_in_force is TimeInForce.GTC
    assert order.quantity == 10
    assert order.price == Decimal("101.50")
    assert str(order.price) == "101.50"  # kept on the tick grid
    assert order.client_order_id == "my-1"


def test_a_valid_market_order_has_no_price_and_no_client_order_id_by_default():
    order = validate_order(request(type="market", time_in_force="ioc", price="", side="sell"), AAPL)
    assert order.type is OrderType.MARKET
    assert order.side is Side.SELL
    assert order.price is None
    assert order.client_order_id is None


def test_user_id_is_required():
    error = refusal(request(user_id=""))
    assert error.reason == "user_id is required"
    assert error.category == "user_id"


def test_symbol_is_required():
    assert refusal(request(symbol=""), None).reason == "symbol is required"


def test_an_unlisted_symbol_is_refused():
    error = refusal(request(symbol="ZZZZ"), None)
    assert error.reason == "symbol 'ZZZZ' is not listed"
    assert error.category == "symbol"


def test_symbols_are_case_sensitive():
    assert refusal(request(symbol="aapl"), None).reason == "symbol 'aapl' is not listed"


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("side", "long", "side 'long' is not one of buy, sell"),
        ("side", "BUY", "side 'BUY' is not one of buy, sell"),
        ("side", "", "side is required: one of buy, sell"),
        ("type", "stop", "type 'stop' is not one of limit, market"),
        ("type", "", "type is required: one of limit, market"),
        ("time_in_force", "day", "time_in_force 'day' is not one of gtc, ioc, fok"),
        ("time_in_force", "", "time_in_force is required: one of gtc, ioc, fok"),
    ],
)
def test_enumerated_fields_accept_only_their_values(field, value, reason):
    error = refusal(request(**{field: value}))
    assert error.reason == reason
    assert error.category == field


@pytest.mark.parametrize("tif", ["gtc", "ioc", "fok"])
def test_every_time_in_force_is_accepted(tif):
    assert validate_order(request(time_in_force=tif), AAPL).time_in_force == TimeInForce(tif)


@pytest.mark.parametrize("quantity", [0, -1, -100])
def test_quantity_must_be_positive(quantity):
    error = refusal(request(quantity=quantity))
    assert error.reason == f"quantity must be positive, got {quantity}"
    assert error.category == "quantity"


def test_quantity_must_be_a_multiple_of_the_lot():
    error = refusal(request(symbol="LOTS", quantity=150, price="20.00"), ROUND_LOTS)
    assert error.reason == "quantity 150 is not a multiple of the lot size 100"


def test_whole_lots_are_accepted():
    order = validate_order(request(symbol="LOTS", quantity=300, price="20.05"), ROUND_LOTS)
    assert order.quantity == 300


def test_a_limit_order_needs_a_price():
    assert refusal(request(price="")).reason == "price is required for a limit order"


def test_a_market_order_must_not_have_a_price():
    error = refusal(request(type="market", price="100.00"))
    assert error.reason == "a market order must not have a price"


@pytest.mark.parametrize(
    "price",
    [
        "1e3",
        "1E2",
        "NaN",
        "nan",
        "Infinity",
        "-1",
        "+1",
        "-0.01",
        " 100",
        "100 ",
        "1,000",
        ".5",
        "5.",
        "0x10",
        "100.00.00",
        "abc",
        "1_000",
        "\uff11\uff10\uff10",  # fullwidth digits: Decimal() would take them
    ],
)
def test_only_plain_decimal_prices_are_accepted(price):
    error = refusal(request(price=price))
    assert error.reason == f"price {price!r} is not a plain decimal number such as 101.25"
    assert error.category == "price"


@pytest.mark.parametrize("price", ["0", "0.00", "000"])
def test_price_must_be_positive(price):
    assert refusal(request(price=price)).reason == f"price must be positive, got {price}"


@pytest.mark.parametrize("price", ["101.255", "100.001", "99.999"])
def test_price_must_be_on_the_tick_grid(price):
    error = refusal(request(price=price))
    assert error.reason == f"price {price} is not a multiple of the tick size 0.01"


def test_tick_sizes_other_than_a_cent():
    error = refusal(request(symbol="LOTS", quantity=100, price="20.03"), ROUND_LOTS)
    assert error.reason == "price 20.03 is not a multiple of the tick size 0.05"


@pytest.mark.parametrize("price", ["90.00", "90", "110.00", "100.00", "109.99", "90.01"])
def test_prices_inside_the_band_or_on_its_edges_are_accepted(price):
    assert validate_order(request(price=price), AAPL).price == Decimal(price)


@pytest.mark.parametrize("price", ["89.99", "110.01", "1000.00", "0.01"])
def test_prices_outside_the_band_around_the_reference_price_are_refused(price):
    error = refusal(request(price=price))
    assert error.reason == (
        f"price {price} is outside the price band 90.00 to 110.00 "
        "(10% around the reference price 100.00)"
    )
    assert error.category == "price_band"


def test_the_band_follows_the_last_trade_price_once_there_is_one():
    traded = Instrument(
        symbol="AAPL",
        tick_size=Decimal("0.01"),
        lot_size=1,
        reference_price=Decimal("100.00"),
        price_band_percent=10,
        last_price=Decimal("200.00"),
    )
    assert validate_order(request(price="220.00"), traded).price == Decimal("220.00")
    error = refusal(request(price="100.00"), traded)
    assert error.reason == (
        "price 100.00 is outside the price band 180.00 to 220.00 "
        "(10% around the last trade price 200.00)"
    )


def test_band_edges_off_the_tick_grid_are_shown_exactly():
    odd = Instrument(
        symbol="ODD",
        tick_size=Decimal("0.01"),
        lot_size=1,
        reference_price=Decimal("101.55"),
        price_band_percent=10,
    )
    error = refusal(request(symbol="ODD", price="111.71"), odd)
    assert "111.705" in error.reason
    assert "91.395" in error.reason
    assert validate_order(request(symbol="ODD", price="111.70"), odd).price == Decimal("111.70")
    assert validate_order(request(symbol="ODD", price="91.40"), odd).price == Decimal("91.40")


def test_client_order_id_up_to_64_printable_characters_is_accepted():
    client_order_id = "A" * 63 + "~"
    assert validate_order(request(client_order_id=client_order_id), AAPL).client_order_id == (
        client_order_id
    )
    assert validate_order(request(client_order_id="with space"), AAPL).client_order_id


def test_client_order_id_longer_than_64_is_refused():
    error = refusal(request(client_order_id="x" * 65))
    assert error.reason == "client_order_id must be at most 64 characters, got 65"
    assert error.category == "client_order_id"


@pytest.mark.parametrize("client_order_id", ["tab\there", "new\nline", "café", "\x00"])
def test_client_order_id_must_be_printable_ascii(client_order_id):
    error = refusal(request(client_order_id=client_order_id))
    assert error.reason == "client_order_id must contain only printable ASCII characters"


def test_the_first_broken_rule_is_the_one_reported():
    error = refusal(request(side="long", quantity=0, price="abc"))
    assert error.category == "side"


def test_long_client_input_is_cut_in_the_reason():
    error = refusal(request(side="x" * 500))
    assert len(error.reason) < 120
