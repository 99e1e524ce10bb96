"""Order entry against real PostgreSQL and Kafka: placing, idempotency, risk, cancelling, reads."""

import asyncio
import uuid

import asyncpg
import grpc
import pytest

from trademesh.events.v1 import orders_pb2
from trademesh.order.v1 import order_pb2
from trademesh_common.kafka import Topics
from trademesh_order.outbox import enqueue

pytestmark = pytest.mark.integration


def limit(user_id: str, symbol: str, side: str, quantity: int, price: str, **extra):
    return order_pb2.PlaceOrderRequest(
        user_id=user_id,
        symbol=symbol,
        side=side,
        type="limit",
        time_in_force="gtc",
        quantity=quantity,
        price=price,
        **extra,
    )


def market(user_id: str, symbol: str, side: str, quantity: int):
    return order_pb2.PlaceOrderRequest(
        user_id=user_id,
        symbol=symbol,
        side=side,
        type="market",
        time_in_force="ioc",
        quantity=quantity,
    )


def command_for(order_id: str):
    def matches(record) -> bool:
        command = orders_pb2.OrderCommand.FromString(record.value())
        which = command.WhichOneof("command")
        return which is not None and getattr(command, which).order_id == order_id

    return matches


def decode(record) -> orders_pb2.OrderCommand:
    return orders_pb2.OrderCommand.FromString(record.value())


async def refused(call) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


async def test_a_limit_buy_is_stored_reserved_and_sent_to_matching_in_ticks(
    order_client, orders_tap, user_id
):
    response = await order_client.PlaceOrder(limit(user_id, "AMZN", "buy", 10, "120.5"))
    order = response.order
    assert not response.duplicate
    assert order.status == order_pb2.ORDER_STATUS_PENDING_NEW
    assert len(order.order_id) == 32
    assert order.price == "120.50"
    assert order.user_id == user_id

    record = await orders_tap.find(command_for(order.order_id))
    assert record.key() == b"AMZN"
    command = decode(record)
    assert len(command.command_id) == 32
    assert command.symbol == "AMZN"
    assert command.created_at_us > 0
    accepted = command.accepted
    assert accepted.user_id == user_id
    assert accepted.side == orders_pb2.SIDE_BUY
    assert accepted.type == orders_pb2.ORDER_TYPE_LIMIT
    assert accepted.time_in_force == orders_pb2.TIME_IN_FORCE_GTC
    assert accepted.quantity == 10
    assert accepted.price_ticks == 12050

    positions = await order_client.GetPositions(order_pb2.GetPositionsRequest(user_id=user_id))
    assert positions.cash == "100000.00"
    assert positions.reserved_cash == "1205.00"


async def test_market_orders_carry_the_protection_price_at_the_band_edge(
    order_client, orders_tap, user_id
):
    # NVDA and MSFT never trade in these tests: their bands sit on the reference prices.
    buy = (await order_client.PlaceOrder(market(user_id, "NVDA", "buy", 5))).order
    sell = (await order_client.PlaceOrder(market(user_id, "MSFT", "sell", 20))).order
    assert buy.price == ""
    assert buy.type == "market"

    bought = decode(await orders_tap.find(command_for(buy.order_id))).accepted
    assert bought.type == orders_pb2.ORDER_TYPE_MARKET
    assert bought.time_in_force == orders_pb2.TIME_IN_FORCE_IOC
    assert bought.price_ticks == 9350  # NVDA 85.00 + 10%
    sold = decode(await orders_tap.find(command_for(sell.order_id))).accepted
    assert sold.side == orders_pb2.SIDE_SELL
    assert sold.price_ticks == 27000  # MSFT 300.00 - 10%

    positions = await order_client.GetPositions(order_pb2.GetPositionsRequest(user_id=user_id))
    assert positions.reserved_cash == "467.50"  # 5 x 93.50
    msft = next(p for p in positions.positions if p.symbol == "MSFT")
    assert (msft.quantity, msft.reserved_quantity) == (500, 20)


async def test_a_repeated_client_order_id_returns_the_original_and_places_nothing(
    order_client, orders_tap, user_id
):
    request = limit(user_id, "GOOGL", "buy", 3, "140.00", client_order_id="retry-me")
    first = await order_client.PlaceOrder(request)
    second = await order_client.PlaceOrder(request)
    # Even a different request under the same key is the same order.
    third = await order_client.PlaceOrder(
        limit(user_id, "GOOGL", "buy", 99, "141.00", client_order_id="retry-me")
    )
    assert not first.duplicate
    assert second.duplicate and third.duplicate
    assert second.order == first.order
    assert third.order.order_id == first.order.order_id

    listed = await order_client.ListOrders(order_pb2.ListOrdersRequest(user_id=user_id))
    assert [o.order_id for o in listed.orders] == [first.order.order_id]
    positions = await order_client.GetPositions(order_pb2.GetPositionsRequest(user_id=user_id))
    assert positions.reserved_cash == "420.00"
    await orders_tap.find(command_for(first.order.order_id))
    await orders_tap.settle(1.0)
    commands = [r for r in orders_tap.records if command_for(first.order.order_id)(r)]
    assert len(commands) == 1

    # Keys are per user: another user's identical key is another order.
    other = await order_client.PlaceOrder(
        limit(user_id + "-other", "GOOGL", "buy", 3, "140.00", client_order_id="retry-me")
    )
    assert not other.duplicate
    assert other.order.order_id != first.order.order_id


async def test_concurrent_repeats_of_a_client_order_id_make_one_order(order_client, user_id):
    request = limit(user_id, "KO", "buy", 1, "60.00", client_order_id="burst")
    responses = await asyncio.gather(*(order_client.PlaceOrder(request) for _ in range(8)))
    assert len({r.order.order_id for r in responses}) == 1
    assert sum(not r.duplicate for r in responses) == 1


async def test_a_buy_beyond_the_available_cash_is_refused(order_client, user_id):
    await order_client.PlaceOrder(limit(user_id, "JPM", "buy", 600, "150.00"))  # 90,000 held
    error = await refused(order_client.PlaceOrder(limit(user_id, "JPM", "buy", 67, "150.00")))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error.details() == "insufficient cash: need 10050.00, available 10000.00"
    # Exactly what is left still goes through.
    await order_client.PlaceOrder(limit(user_id, "JPM", "buy", 66, "150.00"))


async def test_a_sell_beyond_the_unreserved_position_is_refused(order_client, user_id):
    await order_client.PlaceOrder(limit(user_id, "MSFT", "sell", 300, "300.00"))
    error = await refused(order_client.PlaceOrder(limit(user_id, "MSFT", "sell", 201, "300.00")))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error.details() == (
        "insufficient position in MSFT: need 201, available 200 "
        "(held 500, reserved for open sells 300)"
    )
    nothing = await refused(order_client.PlaceOrder(limit(user_id, "TSLA", "sell", 1, "200.00")))
    assert nothing.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert nothing.details().startswith("insufficient position in TSLA: need 1, available 0")


async def test_invalid_orders_are_refused_with_the_reason(order_client, user_id):
    error = await refused(order_client.PlaceOrder(limit(user_id, "META", "buy", 1, "300.005")))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == "price 300.005 is not a multiple of the tick size 0.01"
    error = await refused(order_client.PlaceOrder(limit(user_id, "META", "buy", 1, "1e3")))
    assert error.details() == "price '1e3' is not a plain decimal number such as 101.25"
    error = await refused(order_client.PlaceOrder(limit(user_id, "XXXX", "buy", 1, "1.00")))
    assert error.details() == "symbol 'XXXX' is not listed"
    error = await refused(order_client.PlaceOrder(limit("", "META", "buy", 1, "300.00")))
    assert error.details() == "user_id is required"
    # Nothing was opened or reserved for the refused orders.
    positions = await order_client.GetPositions(order_pb2.GetPositionsRequest(user_id=user_id))
    assert positions.reserved_cash == "0.00"


async def test_nobody_can_see_or_cancel_another_users_order(order_client, user_id):
    order = (await order_client.PlaceOrder(limit(user_id, "V", "buy", 1, "250.00"))).order
    intruder = user_id + "-intruder"
    for call in (
        order_client.CancelOrder(
            order_pb2.CancelOrderRequest(user_id=intruder, order_id=order.order_id)
        ),
        order_client.GetOrder(order_pb2.GetOrderRequest(user_id=intruder, order_id=order.order_id)),
        order_client.ListFills(
            order_pb2.ListFillsRequest(user_id=intruder, order_id=order.order_id)
        ),
    ):
        error = await refused(call)
        assert error.code() == grpc.StatusCode.NOT_FOUND
        assert error.details() == f"order '{order.order_id}' not found"
    unknown = await refused(
        order_client.CancelOrder(order_pb2.CancelOrderRequest(user_id=user_id, order_id="nope"))
    )
    assert unknown.code() == grpc.StatusCode.NOT_FOUND
    assert unknown.details() == "order 'nope' not found"
    listed = await order_client.ListOrders(order_pb2.ListOrdersRequest(user_id=intruder))
    assert list(listed.orders) == []


async def test_cancelling_sends_a_cancel_request_and_leaves_the_order_to_matching(
    order_client, orders_tap, user_id
):
    order = (await order_client.PlaceOrder(limit(user_id, "V", "buy", 1, "250.00"))).order
    response = await order_client.CancelOrder(
        order_pb2.CancelOrderRequest(user_id=user_id, order_id=order.order_id)
    )
    assert response.order.status == order_pb2.ORDER_STATUS_PENDING_NEW

    def is_cancel(record) -> bool:
        command = decode(record)
        return command.WhichOneof("command") == "cancel" and command.cancel.order_id == (
            order.order_id
        )

    record = await orders_tap.find(is_cancel)
    assert record.key() == b"V"
    command = decode(record)
    assert command.cancel.user_id == user_id
    assert command.cancel.symbol == "V"
    accepted = decode(await orders_tap.find(command_for(order.order_id)))
    assert command.command_id != accepted.command_id


async def test_orders_list_newest_first_in_pages_and_by_filter(order_client, user_id):
    placed = [
        (await order_client.PlaceOrder(limit(user_id, symbol, "buy", 1, price))).order.order_id
        for symbol, price in [("AAPL", "150.00"), ("AMZN", "120.00"), ("AAPL", "149.00")]
    ]
    first = await order_client.ListOrders(order_pb2.ListOrdersRequest(user_id=user_id, limit=2))
    assert [o.order_id for o in first.orders] == [placed[2], placed[1]]
    assert first.next_page_token
    second = await order_client.ListOrders(
        order_pb2.ListOrdersRequest(user_id=user_id, limit=2, page_token=first.next_page_token)
    )
    assert [o.order_id for o in second.orders] == [placed[0]]
    assert second.next_page_token == ""

    aapl = await order_client.ListOrders(
        order_pb2.ListOrdersRequest(user_id=user_id, symbol="AAPL", open_only=True)
    )
    assert [o.order_id for o in aapl.orders] == [placed[2], placed[0]]

    error = await refused(
        order_client.ListOrders(order_pb2.ListOrdersRequest(user_id=user_id, page_token="x!"))
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == "page_token is not valid for this listing"


async def test_a_new_paper_account_opens_with_the_starting_cash_and_positions(
    order_client, user_id
):
    positions = await order_client.GetPositions(order_pb2.GetPositionsRequest(user_id=user_id))
    assert positions.cash == "100000.00"
    assert positions.reserved_cash == "0.00"
    held = {
        p.symbol: (p.quantity, p.reserved_quantity, p.average_price) for p in positions.positions
    }
    assert held == {"AAPL": (1000, 0, "150.00"), "MSFT": (500, 0, "300.00")}


async def test_instruments_are_listed_with_their_rules(order_client):
    response = await order_client.ListInstruments(order_pb2.ListInstrumentsRequest())
    by_symbol = {i.symbol: i for i in response.instruments}
    assert len(by_symbol) == 10
    nvda = by_symbol["NVDA"]
    assert (nvda.tick_size, nvda.lot_size, nvda.reference_price) == ("0.01", 1, "85.00")
    assert nvda.price_band_percent == 10
    assert nvda.last_price == ""


async def test_the_relay_publishes_a_command_left_unpublished_by_a_crash(
    order_stack, orders_tap, eventually
):
    order_id = uuid.uuid4().hex
    command = orders_pb2.OrderCommand(
        command_id=uuid.uuid4().hex,
        symbol="TSLA",
        cancel=orders_pb2.CancelRequested(order_id=order_id, user_id="crashed", symbol="TSLA"),
    )
    conn = await asyncpg.connect(order_stack.dsn)
    try:
        # What a crash between commit and delivery leaves behind: an old unpublished row.
        record = await enqueue(conn, Topics.ORDERS, "TSLA", command.SerializeToString())
        await conn.execute(
            "UPDATE outbox SET created_at = now() - interval '1 minute' WHERE id = $1", record.id
        )
        relayed = await orders_tap.find(command_for(order_id))
        assert relayed.key() == b"TSLA"
        assert decode(relayed) == command

        async def marked_published() -> bool:
            published = await conn.fetchval(
                "SELECT published_at FROM outbox WHERE id = $1", record.id
            )
            return published is not None

        await eventually(marked_published, what="the outbox row to be marked published")
    finally:
        await conn.close()
