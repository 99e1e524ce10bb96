"""Matching's execution reports (produced for real onto `executions`) moving orders, cash,
reservations and positions, exactly once, with an OrderUpdate per change."""

import asyncio
import uuid

import pytest

from trademesh.events.v1 import executions_pb2, order_updates_pb2
from trademesh.order.v1 import order_pb2

pytestmark = pytest.mark.integration

STATUS = order_pb2.OrderStatus


def limit(user_id: str, symbol: str, side: str, quantity: int, price: str):
    return order_pb2.PlaceOrderRequest(
        user_id=user_id,
        symbol=symbol,
        side=side,
        type="limit",
        time_in_force="gtc",
        quantity=quantity,
        price=price,
    )


def update_for(order_id: str):
    def matches(record) -> bool:
        return order_updates_pb2.OrderUpdate.FromString(record.value()).order.order_id == order_id

    return matches


def decode_update(record) -> order_updates_pb2.OrderUpdate:
    return order_updates_pb2.OrderUpdate.FromString(record.value())


@pytest.fixture
def order_in(order_client, eventually):
    """`await order_in(order, status)`: the order once it has reached `status`."""

    async def wait(order: order_pb2.Order, status: int) -> order_pb2.Order:
        async def reached() -> order_pb2.Order | None:
            current = await order_client.GetOrder(
                order_pb2.GetOrderRequest(user_id=order.user_id, order_id=order.order_id)
            )
            return current if current.status == status else None

        return await eventually(reached, what=f"order to become {STATUS.Name(status)}")

    return wait


async def positions_of(order_client, user_id: str) -> order_pb2.GetPositionsResponse:
    return await order_client.GetPositions(order_pb2.GetPositionsRequest(user_id=user_id))


def holding(positions: order_pb2.GetPositionsResponse, symbol: str) -> tuple[int, int, str]:
    for position in positions.positions:
        if position.symbol == symbol:
            return position.quantity, position.reserved_quantity, position.average_price
    return 0, 0, ""


async def test_a_buy_acknowledged_then_filled_in_two_parts(
    order_client, matching, order_in, updates_tap, eventually, user_id
):
    order = (await order_client.PlaceOrder(limit(user_id, "AAPL", "buy", 10, "150.50"))).order

    await matching.ack(order)
    await order_in(order, STATUS.ORDER_STATUS_NEW)

    first_fill = await matching.fill(order, 4, 15000)  # 4 @ 150.00: better than the limit
    partial = await order_in(order, STATUS.ORDER_STATUS_PARTIALLY_FILLED)
    assert partial.filled_quantity == 4
    assert partial.average_fill_price == "150.00"
    positions = await positions_of(order_client, user_id)
    assert positions.cash == "99400.00"  # 100000 - 4 x 150.00
    assert positions.reserved_cash == "903.00"  # 6 x 150.50 still held
    assert holding(positions, "AAPL") == (1004, 0, "150.00")

    # The same report again (a redelivery) changes nothing.
    await matching.send(first_fill)
    await matching.fill(order, 6, 15050)  # 6 @ 150.50
    filled = await order_in(order, STATUS.ORDER_STATUS_FILLED)
    assert filled.filled_quantity == 10
    assert filled.average_fill_price == "150.30"  # (4 x 150.00 + 6 x 150.50) / 10
    positions = await positions_of(order_client, user_id)
    assert positions.cash == "98497.00"  # 99400.00 - 6 x 150.50
    assert positions.reserved_cash == "0.00"
    quantity, reserved, average = holding(positions, "AAPL")
    assert (quantity, reserved) == (1010, 0)
    assert average == "150.0029703"  # (1000 x 150 + 4 x 150 + 6 x 150.50) / 1010, rounded

    fills = await order_client.ListFills(
        order_pb2.ListFillsRequest(user_id=user_id, order_id=order.order_id)
    )
    assert [(f.quantity, f.price, f.liquidity) for f in fills.fills] == [
        (4, "150.00", "taker"),
        (6, "150.50", "taker"),
    ]
    assert fills.fills[0].execution_id == first_fill.execution_id
    assert fills.fills[0].trade_id == first_fill.trade_id

    instruments = await order_client.ListInstruments(order_pb2.ListInstrumentsRequest())
    aapl = next(i for i in instruments.instruments if i.symbol == "AAPL")
    assert aapl.last_price == "150.50"

    # One update per change: the ACK and the two fills, not the redelivered fill.
    records = await updates_tap.find_all(update_for(order.order_id), 3)
    await updates_tap.settle(1.0)
    records = [r for r in updates_tap.records if update_for(order.order_id)(r)]
    updates = [decode_update(r) for r in records]
    assert [u.order.status for u in updates] == [
        STATUS.ORDER_STATUS_NEW,
        STATUS.ORDER_STATUS_PARTIALLY_FILLED,
        STATUS.ORDER_STATUS_FILLED,
    ]
    assert all(r.key() == user_id.encode() for r in records)
    assert all(u.user_id == user_id for u in updates)
    assert not updates[0].HasField("fill")
    assert updates[1].fill.execution_id == first_fill.execution_id
    assert (updates[2].fill.quantity, updates[2].fill.price) == (6, "150.50")
    assert updates[2].order.average_fill_price == "150.30"


async def test_a_sell_partly_filled_then_cancelled_releases_the_rest(
    order_client, matching, order_in, user_id
):
    order = (await order_client.PlaceOrder(limit(user_id, "AAPL", "sell", 100, "151.00"))).order
    assert holding(await positions_of(order_client, user_id), "AAPL") == (1000, 100, "150.00")

    await matching.ack(order)
    await matching.fill(order, 30, 15100)
    await order_in(order, STATUS.ORDER_STATUS_PARTIALLY_FILLED)
    positions = await positions_of(order_client, user_id)
    assert positions.cash == "104530.00"  # 100000 + 30 x 151.00
    assert holding(positions, "AAPL") == (970, 70, "150.00")

    await matching.cancel(order, "user_requested")
    cancelled = await order_in(order, STATUS.ORDER_STATUS_CANCELLED)
    assert cancelled.reason == "user_requested"
    assert cancelled.filled_quantity == 30
    positions = await positions_of(order_client, user_id)
    assert holding(positions, "AAPL") == (970, 0, "150.00")
    assert positions.cash == "104530.00"

    # A cancelled order cannot be cancelled again, and late reports are ignored.
    await matching.fill(order, 10, 15100)
    await matching.ack(order)
    marker = (await order_client.PlaceOrder(limit(user_id, "AAPL", "buy", 1, "150.00"))).order
    await matching.ack(marker)
    await order_in(marker, STATUS.ORDER_STATUS_NEW)  # the late reports were applied before it
    after = await order_client.GetOrder(
        order_pb2.GetOrderRequest(user_id=user_id, order_id=order.order_id)
    )
    assert after.status == STATUS.ORDER_STATUS_CANCELLED
    assert after.filled_quantity == 30
    assert holding(await positions_of(order_client, user_id), "AAPL") == (970, 0, "150.00")


async def test_an_ioc_market_buy_filled_below_its_protection_price(
    order_client, matching, order_in, user_id
):
    order = (
        await order_client.PlaceOrder(
            order_pb2.PlaceOrderRequest(
                user_id=user_id,
                symbol="KO",
                side="buy",
                type="market",
                time_in_force="ioc",
                quantity=10,
            )
        )
    ).order
    positions = await positions_of(order_client, user_id)
    assert positions.reserved_cash == "660.00"  # 10 x 66.00: KO 60.00 + 10%

    await matching.ack(order)
    await matching.fill(order, 6, 6000)
    await matching.cancel(order, "market_remainder")
    cancelled = await order_in(order, STATUS.ORDER_STATUS_CANCELLED)
    assert cancelled.filled_quantity == 6
    assert cancelled.reason == "market_remainder"
    positions = await positions_of(order_client, user_id)
    assert positions.cash == "99640.00"  # 100000 - 6 x 60.00
    assert positions.reserved_cash == "0.00"
    assert holding(positions, "KO") == (6, 0, "60.00")


async def test_a_rejected_order_gives_its_cash_back(order_client, matching, order_in, user_id):
    order = (await order_client.PlaceOrder(limit(user_id, "META", "buy", 2, "300.00"))).order
    assert (await positions_of(order_client, user_id)).reserved_cash == "600.00"
    await matching.reject(order, "duplicate_order_id")
    rejected = await order_in(order, STATUS.ORDER_STATUS_REJECTED)
    assert rejected.reason == "duplicate_order_id"
    positions = await positions_of(order_client, user_id)
    assert (positions.cash, positions.reserved_cash) == ("100000.00", "0.00")


async def test_a_refused_cancel_request_leaves_the_order_standing(
    order_client, matching, order_in, orders_tap, user_id
):
    order = (await order_client.PlaceOrder(limit(user_id, "META", "buy", 1, "300.00"))).order
    await matching.ack(order)
    await order_in(order, STATUS.ORDER_STATUS_NEW)
    # Matching answers a cancel it cannot honour with a REJECT naming the cancel command.
    await matching.reject(order, "cancel_rejected:unknown_order", command_id=uuid.uuid4().hex)
    await matching.fill(order, 1, 30000)
    filled = await order_in(order, STATUS.ORDER_STATUS_FILLED)
    assert filled.reason == ""


async def test_garbage_and_orphans_go_to_the_dead_letter_topic_and_the_rest_applies(
    order_client, matching, order_in, dead_letter_tap, user_id
):
    order = (await order_client.PlaceOrder(limit(user_id, "AMZN", "buy", 1, "120.00"))).order
    garbage = b"not a protobuf " + uuid.uuid4().hex.encode()
    await matching.send_raw("AMZN", garbage)
    orphan = executions_pb2.ExecutionReport(
        execution_id=f"e-{uuid.uuid4().hex}",
        order_id=f"unknown-{uuid.uuid4().hex}",
        user_id=user_id,
        symbol="AMZN",
        type=executions_pb2.EXECUTION_TYPE_ACK,
    )
    await matching.send(orphan)
    await matching.ack(order)
    await order_in(order, STATUS.ORDER_STATUS_NEW)

    dead_garbage = await dead_letter_tap.find(lambda r: r.value() == garbage)
    headers = dict(dead_garbage.headers())
    assert headers["x-dead-letter-reason"].startswith(b"not an ExecutionReport")
    assert headers["x-source-topic"] == b"executions"
    assert dead_garbage.key() == b"AMZN"
    dead_orphan = await dead_letter_tap.find(lambda r: r.value() == orphan.SerializeToString())
    assert dict(dead_orphan.headers())["x-dead-letter-reason"] == (
        f"unknown order {orphan.order_id}".encode()
    )

    # The consumer carries on: later reports still apply.
    await matching.fill(order, 1, 12000)
    await order_in(order, STATUS.ORDER_STATUS_FILLED)


async def test_a_report_that_breaks_the_batched_write_is_set_aside_and_the_rest_applies(
    order_client, matching, order_in, dead_letter_tap, user_id
):
    """The batched write fails as a whole; the report-by-report retry isolates the culprit."""
    first = (await order_client.PlaceOrder(limit(user_id, "AMZN", "buy", 1, "120.00"))).order
    second = (await order_client.PlaceOrder(limit(user_id, "AMZN", "buy", 1, "120.00"))).order
    await matching.ack(first)
    await matching.ack(second)
    await order_in(first, STATUS.ORDER_STATUS_NEW)
    await order_in(second, STATUS.ORDER_STATUS_NEW)

    # PostgreSQL text cannot hold a NUL: storing this fill raises a DataError.
    bad = matching.report(
        first,
        executions_pb2.EXECUTION_TYPE_FILL,
        trade_id="t\x00bad",
        last_quantity=1,
        last_price_ticks=12000,
        leaves_quantity=0,
        liquidity=executions_pb2.LIQUIDITY_TAKER,
    )
    good = matching.report(
        second,
        executions_pb2.EXECUTION_TYPE_FILL,
        trade_id=f"t-{uuid.uuid4().hex}",
        last_quantity=1,
        last_price_ticks=12000,
        leaves_quantity=0,
        liquidity=executions_pb2.LIQUIDITY_TAKER,
    )
    # Sent together, so that they usually share a batch.
    await asyncio.gather(matching.send(bad), matching.send(good))

    await order_in(second, STATUS.ORDER_STATUS_FILLED)
    dead = await dead_letter_tap.find(lambda r: r.value() == bad.SerializeToString())
    assert dict(dead.headers())["x-dead-letter-reason"].startswith(b"cannot be applied")
    current = await order_client.GetOrder(
        order_pb2.GetOrderRequest(user_id=user_id, order_id=first.order_id)
    )
    assert current.status == STATUS.ORDER_STATUS_NEW and current.filled_quantity == 0
