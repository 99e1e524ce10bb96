"""The engine around the book: reports, deterministic ids, dedupe and snapshots."""

import pytest

from trademesh.events.v1 import executions_pb2, orders_pb2
from trademesh_matching.engine import PartitionEngine
from trademesh_matching.processor import BadCommand, decode_command

ER = executions_pb2.ExecutionReport


def place(order_id, user, side, qty, price, tif=orders_pb2.TIME_IN_FORCE_GTC, symbol="AAPL"):
    return orders_pb2.OrderCommand(
        command_id=f"c-{order_id}",
        symbol=symbol,
        accepted=orders_pb2.OrderAccepted(
            order_id=order_id,
            user_id=user,
            symbol=symbol,
            side=side,
            type=orders_pb2.ORDER_TYPE_LIMIT,
            time_in_force=tif,
            quantity=qty,
            price_ticks=price,
        ),
    )


def cancel(order_id, user, symbol="AAPL"):
    return orders_pb2.OrderCommand(
        command_id=f"x-{order_id}",
        symbol=symbol,
        cancel=orders_pb2.CancelRequested(order_id=order_id, user_id=user, symbol=symbol),
    )


BUY, SELL = orders_pb2.SIDE_BUY, orders_pb2.SIDE_SELL


def run(engine, commands, start=0):
    return [engine.apply(c, offset) for offset, c in enumerate(commands, start)]


def test_crossing_orders_report_acks_fills_and_a_trade_for_both_sides():
    engine = PartitionEngine(partition=3)
    first, second = run(
        engine, [place("s1", "alice", SELL, 10, 100), place("b1", "bob", BUY, 4, 101)]
    )

    assert [r.type for r in first.executions] == [executions_pb2.EXECUTION_TYPE_ACK]
    assert first.executions[0].leaves_quantity == 10
    assert [r.type for r in second.executions] == [
        executions_pb2.EXECUTION_TYPE_ACK,
        executions_pb2.EXECUTION_TYPE_FILL,
        executions_pb2.EXECUTION_TYPE_FILL,
    ]
    maker, taker = second.executions[1:]
    assert (maker.order_id, maker.user_id, maker.side) == ("s1", "alice", SELL)
    assert (maker.last_quantity, maker.last_price_ticks, maker.leaves_quantity) == (4, 100, 6)
    assert maker.liquidity == executions_pb2.LIQUIDITY_MAKER
    assert (taker.order_id, taker.user_id, taker.side) == ("b1", "bob", BUY)
    assert (taker.leaves_quantity, taker.cumulative_quantity) == (0, 4)
    assert taker.liquidity == executions_pb2.LIQUIDITY_TAKER
    [trade] = second.trades
    assert trade.trade_id == maker.trade_id == taker.trade_id == "t-3-1-2"
    assert (trade.price_ticks, trade.quantity, trade.aggressor_side) == (100, 4, BUY)
    assert [e.WhichOneof("event") for e in second.marketdata] == ["trade", "book_delta"]


def test_ids_are_derived_from_offsets_so_a_replay_gives_the_same_ids():
    commands = [place("s1", "alice", SELL, 10, 100), place("b1", "bob", BUY, 10, 100)]
    ids = [[r.execution_id for o in run(PartitionEngine(0), commands) for r in o.executions]]
    ids.append([r.execution_id for o in run(PartitionEngine(0), commands) for r in o.executions])
    assert ids[0] == ids[1]
    assert len(set(ids[0])) == len(ids[0])


def test_a_redelivered_order_command_is_dropped():
    engine = PartitionEngine(0)
    run(engine, [place("s1", "alice", SELL, 10, 100)])
    again = engine.apply(place("s1", "alice", SELL, 10, 100), 1)
    assert again.executions == [] and again.marketdata == []
    assert engine.next_offset == 2
    assert engine.books["AAPL"].depth(5)[1] == [(100, 10, 1)]


def test_cancel_of_an_order_not_on_the_book_is_rejected_to_its_owner():
    engine = PartitionEngine(0)
    [out] = run(engine, [cancel("nope", "carol")])
    [report] = out.executions
    assert report.type == executions_pb2.EXECUTION_TYPE_REJECT
    assert (report.order_id, report.user_id) == ("nope", "carol")
    assert report.reason == "cancel_rejected:unknown_order"


def test_a_restored_snapshot_continues_exactly_like_the_original():
    commands = [
        place("s1", "alice", SELL, 10, 100),
        place("s2", "alice", SELL, 5, 101),
        place("b1", "bob", BUY, 3, 99),
        place("b2", "bob", BUY, 12, 101, tif=orders_pb2.TIME_IN_FORCE_IOC),
        cancel("b1", "bob"),
        place("b3", "carol", BUY, 2, 101),
    ]
    original = PartitionEngine(7)
    run(original, commands[:3])
    restored = PartitionEngine.from_snapshot(original.to_snapshot())
    assert restored.next_offset == 3

    expected = run(original, commands[3:], start=3)
    actual = run(restored, commands[3:], start=3)
    strip = lambda outs: [  # noqa: E731 - timestamps are wall-clock
        (r.execution_id, r.type, r.order_id, r.last_quantity, r.leaves_quantity, r.reason)
        for o in outs
        for r in o.executions
    ]
    assert strip(actual) == strip(expected)
    assert restored.books["AAPL"].depth(10) == original.books["AAPL"].depth(10)


@pytest.mark.parametrize(
    "value",
    [b"", b"\xff\xfe garbage", orders_pb2.OrderCommand(command_id="x").SerializeToString()],
)
def test_malformed_command_records_are_refused_with_a_reason(value):
    with pytest.raises(BadCommand):
        decode_command(value)
