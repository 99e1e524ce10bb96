"""The trading path end to end on real Kafka, Redis and PostgreSQL:
gateway → order → Kafka → matching → Kafka → order → gateway WebSocket.

Each test trades its own symbol so that books do not interfere.
"""

from decimal import Decimal

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def is_fill_for(order_id):
    return lambda m: m["type"] == "fill" and m["fill"]["order_id"] == order_id


def status_is(*statuses):
    return lambda order: order["status"] in statuses


def position(positions, symbol):
    return next((p for p in positions["positions"] if p["symbol"] == symbol), None)


async def test_two_users_cross_and_both_see_fills_positions_cash_and_the_trade(traders):
    seller, buyer = await traders("seller"), await traders("buyer")
    seller_before, buyer_before = await seller.positions(), await buyer.positions()

    ask = await seller.place(symbol="AAPL", side="sell", type="limit", quantity=10, price="150.00")
    bid = await buyer.place(symbol="AAPL", side="buy", type="limit", quantity=4, price="150.50")

    buyer_fill = await buyer.wait_for_message(is_fill_for(bid["order_id"]))
    seller_fill = await seller.wait_for_message(is_fill_for(ask["order_id"]))
    # Trades happen at the resting order's price.
    assert Decimal(buyer_fill["fill"]["price"]) == Decimal("150.00")
    assert buyer_fill["fill"]["quantity"] == seller_fill["fill"]["quantity"] == 4
    assert buyer_fill["fill"]["trade_id"] == seller_fill["fill"]["trade_id"]
    assert buyer_fill["order"]["status"] == "filled"
    assert seller_fill["order"]["status"] == "partially_filled"

    ask_now = await seller.wait_for_order(ask["order_id"], status_is("partially_filled"))
    assert ask_now["filled_quantity"] == 4

    trade = (await buyer.http.get(f"/trades/{buyer_fill['fill']['trade_id']}")).json()
    assert trade["symbol"] == "AAPL"
    assert Decimal(trade["price"]) == Decimal("150.00")
    assert trade["quantity"] == 4

    buyer_after, seller_after = await buyer.positions(), await seller.positions()
    assert Decimal(buyer_before["cash"]) - Decimal(buyer_after["cash"]) == Decimal("600.00")
    assert Decimal(seller_after["cash"]) - Decimal(seller_before["cash"]) == Decimal("600.00")
    assert (
        position(buyer_after, "AAPL")["quantity"]
        - (position(buyer_before, "AAPL") or {"quantity": 0})["quantity"]
        == 4
    )
    # The seller's open remainder (6) is still held against the position.
    assert position(seller_after, "AAPL")["reserved_quantity"] == 6


async def test_an_ioc_remainder_is_cancelled(traders):
    seller, buyer = await traders("seller"), await traders("buyer")
    await seller.place(symbol="MSFT", side="sell", type="limit", quantity=3, price="300.00")
    ioc = await buyer.place(
        symbol="MSFT", side="buy", type="limit", time_in_force="ioc", quantity=5, price="300.00"
    )
    order = await buyer.wait_for_order(ioc["order_id"], status_is("cancelled"))
    assert order["status"] == "cancelled"
    assert order["filled_quantity"] == 3
    assert order["reason"] == "ioc_remainder"


async def test_a_fok_that_cannot_fill_entirely_does_nothing(traders):
    seller, buyer = await traders("seller"), await traders("buyer")
    ask = await seller.place(symbol="GOOGL", side="sell", type="limit", quantity=5, price="140.00")
    fok = await buyer.place(
        symbol="GOOGL", side="buy", type="limit", time_in_force="fok", quantity=6, price="140.00"
    )
    order = await buyer.wait_for_order(fok["order_id"], status_is("cancelled"))
    assert (order["filled_quantity"], order["reason"]) == (0, "fok_unfillable")
    book = (await buyer.http.get("/market/GOOGL/book", params={"depth": 5})).json()
    assert [(Decimal(level["price"]), level["quantity"]) for level in book["asks"]] == [
        (Decimal("140.00"), 5)
    ]
    assert (await seller.order(ask["order_id"]))["filled_quantity"] == 0


async def test_a_market_order_sweeps_several_levels(traders):
    seller, buyer = await traders("seller"), await traders("buyer")
    for price, quantity in (("120.00", 2), ("120.10", 3), ("120.20", 4)):
        await seller.place(symbol="AMZN", side="sell", type="limit", quantity=quantity, price=price)
    market = await buyer.place(symbol="AMZN", side="buy", type="market", quantity=6)
    order = await buyer.wait_for_order(market["order_id"], status_is("filled"))
    assert order["filled_quantity"] == 6
    fills = (await buyer.http.get(f"/orders/{market['order_id']}/fills")).json()["fills"]
    assert sorted((Decimal(f["price"]), f["quantity"]) for f in fills) == [
        (Decimal("120.00"), 2),
        (Decimal("120.10"), 3),
        (Decimal("120.20"), 1),
    ]
    # (2 * 120.00 + 3 * 120.10 + 1 * 120.20) / 6, to the service's rounding
    assert abs(Decimal(order["average_fill_price"]) - Decimal("720.50") / 6) < Decimal("0.0001")


async def test_a_resting_order_is_cancelled_and_its_cash_released(traders):
    buyer = await traders("buyer")
    before = await buyer.positions()
    bid = await buyer.place(symbol="NVDA", side="buy", type="limit", quantity=10, price="90.00")
    await buyer.wait_for_order(bid["order_id"], status_is("new"))
    assert Decimal((await buyer.positions())["reserved_cash"]) == Decimal(
        before["reserved_cash"]
    ) + Decimal("900.00")

    response = await buyer.http.delete(f"/orders/{bid['order_id']}")
    assert response.status_code == 202, response.text
    order = await buyer.wait_for_order(bid["order_id"], status_is("cancelled"))
    assert order["reason"] == "user_requested"
    await buyer.wait_for_message(
        lambda m: m["type"] == "order" and m["order"]["status"] == "cancelled"
    )
    after = await buyer.positions()
    assert Decimal(after["reserved_cash"]) == Decimal(before["reserved_cash"])
    assert Decimal(after["cash"]) == Decimal(before["cash"])


async def test_another_users_order_is_not_visible_or_cancellable(traders):
    owner, other = await traders("owner"), await traders("other")
    bid = await owner.place(symbol="NVDA", side="buy", type="limit", quantity=1, price="80.00")
    assert (await other.http.get(f"/orders/{bid['order_id']}")).status_code == 404
    assert (await other.http.delete(f"/orders/{bid['order_id']}")).status_code == 404


async def test_a_repeated_client_order_id_places_nothing_new(traders):
    buyer = await traders("buyer")
    body = dict(symbol="META", side="buy", type="limit", quantity=1, price="300.00")
    first = await buyer.place(**body, client_order_id="retry-1")
    again = await buyer.http.post("/orders", json={**body, "client_order_id": "retry-1"})
    assert again.status_code == 200
    assert again.json()["order_id"] == first["order_id"]
    orders = (await buyer.http.get("/orders", params={"symbol": "META"})).json()["orders"]
    assert len(orders) == 1
