"""Hand-written cases for the order book's matching rules, events and read API."""

import gc
import json

import pytest

from trademesh_matching.book import (
    BUY,
    FOK,
    GTC,
    IOC,
    LIMIT,
    MARKET,
    SELL,
    Accepted,
    Cancelled,
    CancelRejected,
    Fill,
    LevelChanged,
    OrderBook,
    Rejected,
    RestingOrder,
    decode,
)


def drain(book: OrderBook) -> list:
    events = [decode(record) for record in book.events]
    book.events.clear()
    return events


def rest(book: OrderBook, order_id: str, user_id: str, side: int, quantity: int, price: int):
    """Places a GTC limit order that is expected to rest without trading."""
    book.place(order_id, user_id, side, LIMIT, GTC, quantity, price)
    events = drain(book)
    assert [type(e) for e in events] == [Accepted, LevelChanged], events
    book.check_invariants()


def of_type(events: list, kind: type) -> list:
    return [e for e in events if type(e) is kind]


def fills(events: list) -> list[tuple[str, str, int, int]]:
    """(maker, taker, price, quantity) of each fill."""
    return [
        (f.maker_order_id, f.taker_order_id, f.price, f.quantity) for f in of_type(events, Fill)
    ]


@pytest.fixture
def book() -> OrderBook:
    return OrderBook("ABC")


@pytest.fixture
def asks(book: OrderBook) -> OrderBook:
    """Asks: 101 x 5 (a1), 101 x 3 (a2), 102 x 4 (a3), 104 x 10 (a4); bids: 99 x 6 (b1)."""
    rest(book, "a1", "alice", SELL, 5, 101)
    rest(book, "a2", "bob", SELL, 3, 101)
    rest(book, "a3", "carol", SELL, 4, 102)
    rest(book, "a4", "dave", SELL, 10, 104)
    rest(book, "b1", "erin", BUY, 6, 99)
    return book


# --- resting and limit matching -----------------------------------------------------------------
def test_non_crossing_limit_rests_with_accepted_then_level_changed(book):
    book.place("o1", "alice", BUY, LIMIT, GTC, 7, 100)
    assert drain(book) == [
        Accepted("o1", "alice", BUY, LIMIT, GTC, 7, 100),
        LevelChanged(BUY, 100, 7),
    ]
    assert book.order("o1") == RestingOrder("o1", "alice", BUY, 100, 7, 7)
    assert len(book) == 1
    assert book.best_bid() == 100
    assert book.best_ask() is None


def test_partial_fill_of_maker_leaves_it_at_the_front_with_the_rest(asks):
    asks.place("t1", "zoe", BUY, LIMIT, GTC, 2, 101)
    events = drain(asks)
    assert events == [
        Accepted("t1", "zoe", BUY, LIMIT, GTC, 2, 101),
        Fill("a1", "alice", "t1", "zoe", 101, 2, 3, 0, BUY, 2, 2),
        LevelChanged(SELL, 101, 6),
    ]
    assert asks.order("a1").quantity == 3
    asks.place("t2", "zoe", BUY, LIMIT, GTC, 4, 101)
    # a1 keeps its time priority after the partial fill: it trades first again.
    assert fills(drain(asks)) == [("a1", "t2", 101, 3), ("a2", "t2", 101, 1)]
    asks.check_invariants()


def test_taker_partial_fill_rests_the_remainder_at_its_own_price(asks):
    asks.place("t1", "zoe", BUY, LIMIT, GTC, 12, 101)
    events = drain(asks)
    assert events == [
        Accepted("t1", "zoe", BUY, LIMIT, GTC, 12, 101),
        Fill("a1", "alice", "t1", "zoe", 101, 5, 0, 7, BUY, 5, 5),
        Fill("a2", "bob", "t1", "zoe", 101, 3, 0, 4, BUY, 3, 8),
        LevelChanged(SELL, 101, 0),
        LevelChanged(BUY, 101, 4),
    ]
    assert asks.order("t1") == RestingOrder("t1", "zoe", BUY, 101, 4, 12)
    assert asks.best_bid() == 101
    assert asks.best_ask() == 102
    asks.check_invariants()


def test_trades_execute_at_the_resting_orders_price(asks):
    asks.place("t1", "zoe", BUY, LIMIT, GTC, 10, 103)
    assert fills(drain(asks)) == [("a1", "t1", 101, 5), ("a2", "t1", 101, 3), ("a3", "t1", 102, 2)]
    asks.place("t2", "zoe", SELL, LIMIT, GTC, 2, 90)
    assert fills(drain(asks)) == [("b1", "t2", 99, 2)]


def test_limit_order_does_not_trade_through_its_price(asks):
    asks.place("t1", "zoe", BUY, LIMIT, GTC, 20, 102)
    events = drain(asks)
    assert sum(f.quantity for f in of_type(events, Fill)) == 12
    assert asks.order("t1").quantity == 8
    assert asks.best_ask() == 104
    asks.check_invariants()


def test_time_priority_within_a_level(book):
    rest(book, "s1", "u1", SELL, 2, 50)
    rest(book, "s2", "u2", SELL, 2, 50)
    rest(book, "s3", "u3", SELL, 2, 50)
    book.cancel("s2")
    drain(book)
    rest(book, "s4", "u4", SELL, 2, 50)
    book.place("t", "u9", BUY, LIMIT, IOC, 5, 50)
    assert [f[0] for f in fills(drain(book))] == ["s1", "s3", "s4"]


def test_price_priority_beats_time_priority(book):
    rest(book, "late_better", "u1", BUY, 1, 10)
    rest(book, "early_worse", "u2", BUY, 1, 9)
    rest(book, "late_best", "u3", BUY, 1, 11)
    book.place("t", "u9", SELL, MARKET, IOC, 3, 0)
    assert [f[0] for f in fills(drain(book))] == ["late_best", "late_better", "early_worse"]


# --- IOC, FOK, market -----------------------------------------------------------------------------
def test_ioc_remainder_is_cancelled(asks):
    asks.place("t1", "zoe", BUY, LIMIT, IOC, 10, 101)
    events = drain(asks)
    assert events[-2:] == [
        Cancelled("t1", "zoe", BUY, 101, 2, 8, "ioc_remainder"),
        LevelChanged(SELL, 101, 0),
    ]
    assert asks.order("t1") is None
    assert asks.best_bid() == 99
    asks.check_invariants()


def test_ioc_without_liquidity_is_cancelled_entirely(asks):
    asks.place("t1", "zoe", BUY, LIMIT, IOC, 10, 100)
    assert drain(asks) == [
        Accepted("t1", "zoe", BUY, LIMIT, IOC, 10, 100),
        Cancelled("t1", "zoe", BUY, 100, 10, 0, "ioc_remainder"),
    ]


def test_fok_that_cannot_fill_does_nothing_but_cancel(asks):
    before = asks.to_snapshot()
    asks.place("t1", "zoe", BUY, LIMIT, FOK, 13, 102)  # only 12 available up to 102
    assert drain(asks) == [
        Accepted("t1", "zoe", BUY, LIMIT, FOK, 13, 102),
        Cancelled("t1", "zoe", BUY, 102, 13, 0, "fok_unfillable"),
    ]
    assert asks.to_snapshot() == before


def test_fok_that_can_fill_fills_completely_across_levels(asks):
    asks.place("t1", "zoe", BUY, LIMIT, FOK, 12, 102)
    events = drain(asks)
    assert fills(events) == [("a1", "t1", 101, 5), ("a2", "t1", 101, 3), ("a3", "t1", 102, 4)]
    assert of_type(events, Cancelled) == []
    assert events[-2:] == [LevelChanged(SELL, 101, 0), LevelChanged(SELL, 102, 0)]
    assert asks.best_ask() == 104
    assert asks.order("t1") is None
    asks.check_invariants()


def test_fok_blocked_by_the_users_own_resting_order_is_unfillable(asks):
    # bob's a2 sits between alice's a1 and carol's a3: self-trade prevention would stop the
    # match at a2, so 6 lots are not fillable even though 12 rest at or below 102.
    before = asks.to_snapshot()
    asks.place("t1", "bob", BUY, LIMIT, FOK, 6, 102)
    assert drain(asks)[1:] == [Cancelled("t1", "bob", BUY, 102, 6, 0, "fok_unfillable")]
    assert asks.to_snapshot() == before


def test_fok_fills_when_the_users_own_order_is_beyond_what_it_needs(asks):
    asks.place("t1", "bob", BUY, LIMIT, FOK, 5, 102)
    assert fills(drain(asks)) == [("a1", "t1", 101, 5)]
    assert asks.order("a2").quantity == 3


def test_market_order_sweeps_levels_at_maker_prices(asks):
    asks.place("m1", "zoe", BUY, MARKET, IOC, 15, 0)
    events = drain(asks)
    assert fills(events) == [
        ("a1", "m1", 101, 5),
        ("a2", "m1", 101, 3),
        ("a3", "m1", 102, 4),
        ("a4", "m1", 104, 3),
    ]
    assert events[-3:] == [
        LevelChanged(SELL, 101, 0),
        LevelChanged(SELL, 102, 0),
        LevelChanged(SELL, 104, 7),
    ]
    asks.check_invariants()


def test_market_order_remainder_is_cancelled_and_never_rests(asks):
    asks.place("m1", "zoe", SELL, MARKET, GTC, 10, 0)
    events = drain(asks)
    assert fills(events) == [("b1", "m1", 99, 6)]
    assert events[-2:] == [
        Cancelled("m1", "zoe", SELL, 0, 4, 6, "market_remainder"),
        LevelChanged(BUY, 99, 0),
    ]
    assert asks.order("m1") is None
    assert asks.best_bid() is None
    asks.check_invariants()


def test_market_order_on_an_empty_side_is_cancelled(book):
    book.place("m1", "zoe", BUY, MARKET, IOC, 3, 0)
    assert drain(book) == [
        Accepted("m1", "zoe", BUY, MARKET, IOC, 3, 0),
        Cancelled("m1", "zoe", BUY, 0, 3, 0, "market_remainder"),
    ]


def test_protection_price_stops_a_market_order(asks):
    asks.place("m1", "zoe", BUY, MARKET, IOC, 20, 102)
    events = drain(asks)
    assert sum(f.quantity for f in of_type(events, Fill)) == 12
    assert of_type(events, Cancelled) == [
        Cancelled("m1", "zoe", BUY, 102, 8, 12, "market_remainder")
    ]
    assert asks.best_ask() == 104


def test_protection_price_stops_a_market_sell(book):
    rest(book, "b1", "u1", BUY, 2, 100)
    rest(book, "b2", "u2", BUY, 2, 98)
    book.place("m1", "zoe", SELL, MARKET, IOC, 5, 99)
    events = drain(book)
    assert fills(events) == [("b1", "m1", 100, 2)]
    assert of_type(events, Cancelled)[0].quantity == 3
    assert book.best_bid() == 98


def test_market_fok_is_all_or_nothing(asks):
    before = asks.to_snapshot()
    asks.place("m1", "zoe", BUY, MARKET, FOK, 23, 0)  # 22 on the book
    assert drain(asks)[1:] == [Cancelled("m1", "zoe", BUY, 0, 23, 0, "fok_unfillable")]
    assert asks.to_snapshot() == before
    asks.place("m2", "zoe", BUY, MARKET, FOK, 22, 0)
    assert sum(f.quantity for f in of_type(drain(asks), Fill)) == 22
    assert asks.best_ask() is None


# --- self-trade prevention ----------------------------------------------------------------------
def test_self_trade_prevention_cancels_the_incoming_order_and_keeps_the_resting_one(asks):
    asks.place("t1", "alice", BUY, LIMIT, GTC, 4, 101)
    assert drain(asks) == [
        Accepted("t1", "alice", BUY, LIMIT, GTC, 4, 101),
        Cancelled("t1", "alice", BUY, 101, 4, 0, "self_trade_prevented"),
    ]
    assert asks.order("a1").quantity == 5
    assert asks.order("t1") is None  # a GTC order stopped by STP does not rest
    asks.check_invariants()


def test_fills_before_a_self_trade_stand(asks):
    asks.place("t1", "bob", BUY, LIMIT, GTC, 7, 102)
    events = drain(asks)
    assert events == [
        Accepted("t1", "bob", BUY, LIMIT, GTC, 7, 102),
        Fill("a1", "alice", "t1", "bob", 101, 5, 0, 2, BUY, 5, 5),
        Cancelled("t1", "bob", BUY, 102, 2, 5, "self_trade_prevented"),
        LevelChanged(SELL, 101, 3),
    ]
    assert asks.order("a2").quantity == 3
    asks.check_invariants()


def test_self_trade_prevention_applies_to_market_orders(asks):
    asks.place("m1", "carol", BUY, MARKET, IOC, 20, 0)
    events = drain(asks)
    assert sum(f.quantity for f in of_type(events, Fill)) == 8
    assert of_type(events, Cancelled)[0].reason == "self_trade_prevented"
    assert asks.best_ask() == 102


# --- cancel ---------------------------------------------------------------------------------------
def test_cancel_removes_a_resting_order(asks):
    asks.cancel("a1")
    assert drain(asks) == [
        Cancelled("a1", "alice", SELL, 101, 5, 0, "user_requested"),
        LevelChanged(SELL, 101, 3),
    ]
    assert asks.order("a1") is None
    asks.cancel("a2")
    assert drain(asks)[-1] == LevelChanged(SELL, 101, 0)
    assert asks.best_ask() == 102
    asks.check_invariants()


def test_cancel_after_a_partial_fill_reports_what_was_filled(asks):
    asks.place("t1", "zoe", BUY, LIMIT, IOC, 2, 101)
    drain(asks)
    asks.cancel("a1")
    assert drain(asks)[0] == Cancelled("a1", "alice", SELL, 101, 3, 2, "user_requested")


def test_cancel_of_an_unknown_order_is_rejected(asks):
    before = asks.to_snapshot()
    asks.cancel("nope")
    assert drain(asks) == [CancelRejected("nope", "unknown_order")]
    asks.cancel("a1")
    drain(asks)
    asks.cancel("a1")  # twice
    assert drain(asks) == [CancelRejected("a1", "unknown_order")]
    asks.place("t1", "zoe", BUY, LIMIT, IOC, 3, 101)
    drain(asks)
    asks.cancel("a2")  # filled already
    assert drain(asks) == [CancelRejected("a2", "unknown_order")]
    assert before != asks.to_snapshot()


def test_many_cancels_inside_a_level_keep_time_priority(book):
    for i in range(200):
        rest(book, f"s{i}", f"u{i}", SELL, 1, 10)
    live = [f"s{i}" for i in range(200)]
    for i in range(200):
        if i % 10:
            book.cancel(f"s{i}")
            live.remove(f"s{i}")
            # Cancels leave tombstones that get compacted away now and then: order must hold.
            assert [o[0] for o in book.to_snapshot()["asks"][0][1]] == live
            book.check_invariants()
    drain(book)
    assert book.depth(1)[1] == [(10, 20, 20)]
    book.place("t", "zz", BUY, LIMIT, IOC, 20, 10)
    assert [f[0] for f in fills(drain(book))] == [f"s{i}" for i in range(0, 200, 10)]
    assert len(book) == 0
    book.check_invariants()


# --- rejects --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("side", "order_type", "tif", "quantity", "price", "reason"),
    [
        (BUY, LIMIT, GTC, 0, 100, "invalid_quantity"),
        (BUY, LIMIT, GTC, -5, 100, "invalid_quantity"),
        (BUY, LIMIT, GTC, 5, 0, "invalid_price"),
        (SELL, LIMIT, IOC, 5, -1, "invalid_price"),
        (BUY, MARKET, IOC, 5, -1, "invalid_price"),
        (0, LIMIT, GTC, 5, 100, "invalid_order"),
        (3, LIMIT, GTC, 5, 100, "invalid_order"),
        (BUY, 0, GTC, 5, 100, "invalid_order"),
        (BUY, 3, GTC, 5, 100, "invalid_order"),
        (BUY, LIMIT, 0, 5, 100, "invalid_order"),
        (BUY, LIMIT, 4, 5, 100, "invalid_order"),
        # The first failing check wins: order shape, then quantity, then price.
        (0, LIMIT, GTC, 0, 0, "invalid_order"),
        (BUY, LIMIT, GTC, 0, 0, "invalid_quantity"),
    ],
)
def test_invalid_orders_are_rejected_and_change_nothing(
    asks, side, order_type, tif, quantity, price, reason
):
    before = asks.to_snapshot()
    asks.place("x", "zoe", side, order_type, tif, quantity, price)
    assert drain(asks) == [Rejected("x", "zoe", side, quantity, price, reason)]
    assert asks.to_snapshot() == before


def test_an_order_id_already_resting_is_rejected(asks):
    before = asks.to_snapshot()
    asks.place("a1", "zoe", BUY, LIMIT, GTC, 1, 50)
    assert drain(asks) == [Rejected("a1", "zoe", BUY, 1, 50, "duplicate_order_id")]
    assert asks.to_snapshot() == before


def test_an_order_id_can_be_used_again_once_its_order_is_gone(asks):
    # The book only knows resting orders; deduplicating commands is the engine's job.
    asks.cancel("a1")
    drain(asks)
    rest(asks, "a1", "zoe", SELL, 1, 101)
    asks.place("t", "yan", BUY, LIMIT, IOC, 4, 101)
    assert [f[0] for f in fills(drain(asks))] == ["a2", "a1"]


def test_a_cancelled_order_still_queued_is_not_mistaken_for_a_new_order_with_its_id(book):
    # s1's cancel leaves it queued (ahead of s2) until matching reaches it; by then "s1" names
    # a new bid, which must neither trade as an ask nor lose its own place.
    rest(book, "s1", "u1", SELL, 2, 10)
    rest(book, "s2", "u2", SELL, 2, 10)
    book.cancel("s1")
    drain(book)
    rest(book, "s1", "u3", BUY, 1, 5)
    book.place("t", "u9", BUY, LIMIT, IOC, 3, 10)
    assert fills(drain(book)) == [("s2", "t", 10, 2)]
    assert book.order("s1") == RestingOrder("s1", "u3", BUY, 5, 1, 1)
    book.check_invariants()


# --- events ---------------------------------------------------------------------------------------
def test_one_level_changed_per_level_per_operation_after_fills(book):
    for i in range(3):
        rest(book, f"s{i}", f"u{i}", SELL, 2, 10)
    rest(book, "s9", "u9", SELL, 2, 11)
    book.place("t", "zz", BUY, LIMIT, GTC, 9, 11)
    events = drain(book)
    assert [type(e) for e in events] == [
        Accepted,
        Fill,
        Fill,
        Fill,
        Fill,
        LevelChanged,
        LevelChanged,
        LevelChanged,
    ]
    assert events[-3:] == [
        LevelChanged(SELL, 10, 0),
        LevelChanged(SELL, 11, 0),
        LevelChanged(BUY, 11, 1),
    ]


def test_self_trade_at_the_first_maker_changes_no_level(book):
    rest(book, "s1", "u1", SELL, 2, 10)
    book.place("t", "u1", BUY, LIMIT, GTC, 1, 10)
    assert not of_type(drain(book), LevelChanged)


def test_same_operations_produce_the_same_events():
    def run() -> list:
        book = OrderBook("X")
        out = []
        for i in range(300):
            side = BUY if (i * 7) % 3 else SELL
            price = 100 + (i * 13) % 9 - 4
            if i % 5 == 4:
                book.cancel(f"o{(i * 11) % i}")
            else:
                tif = (GTC, IOC, FOK)[i % 3]
                book.place(f"o{i}", f"u{i % 4}", side, LIMIT, tif, 1 + i % 6, price)
            out.extend(drain(book))
        return out

    assert run() == run()


def test_every_event_type_has_named_fields_and_docs():
    for kind in (Accepted, Fill, Cancelled, Rejected, CancelRejected, LevelChanged):
        assert kind.__doc__
        assert kind._fields


# --- reads ----------------------------------------------------------------------------------------
def test_depth_aggregates_levels_best_first(asks):
    rest(asks, "b2", "u1", BUY, 1, 99)
    rest(asks, "b3", "u2", BUY, 4, 97)
    bids, asks_depth = asks.depth(10)
    assert bids == [(99, 7, 2), (97, 4, 1)]
    assert asks_depth == [(101, 8, 2), (102, 4, 1), (104, 10, 1)]
    assert asks.depth(1) == ([(99, 7, 2)], [(101, 8, 2)])
    assert asks.depth(0) == ([], [])


def test_empty_book_reads(book):
    assert book.best_bid() is None
    assert book.best_ask() is None
    assert book.depth(5) == ([], [])
    assert book.order("x") is None
    assert len(book) == 0


# --- snapshots ------------------------------------------------------------------------------------
def test_snapshot_round_trip_is_exact_after_partial_fills(asks):
    asks.place("t1", "zoe", BUY, LIMIT, GTC, 2, 101)  # a1 partially filled
    drain(asks)
    rest(asks, "a5", "fay", SELL, 2, 101)
    asks.place("t2", "zoe", SELL, LIMIT, GTC, 1, 99)  # b1 partially filled
    asks.cancel("a3")
    drain(asks)
    data = json.loads(json.dumps(asks.to_snapshot()))
    restored = OrderBook.from_snapshot("ABC", data)
    restored.check_invariants()
    assert restored.to_snapshot() == asks.to_snapshot()
    assert restored.depth(10) == asks.depth(10)
    assert restored.order("a1") == RestingOrder("a1", "alice", SELL, 101, 3, 5)
    assert len(restored) == len(asks)
    # Both continue identically, time priority included.
    for book in (asks, restored):
        book.place("m", "zoe", BUY, MARKET, IOC, 9, 0)
        book.cancel("b1")
    assert drain(asks) == drain(restored)
    assert asks.to_snapshot() == restored.to_snapshot()


def test_snapshot_of_an_empty_book(book):
    data = book.to_snapshot()
    assert data == {"format": 1, "symbol": "ABC", "bids": [], "asks": []}
    assert OrderBook.from_snapshot("ABC", data).to_snapshot() == data


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(format=99),
        lambda d: d["asks"].reverse(),  # levels out of order
        lambda d: d["bids"].append([101, [["x", "u", 1, 1]]]),  # crossed
        lambda d: d["bids"].append([50, [["a1", "u", 1, 1]]]),  # duplicate id
        lambda d: d["bids"].append([50, [["x", "u", 0, 1]]]),  # zero leaves
        lambda d: d["bids"].append([50, [["x", "u", 2, 1]]]),  # leaves above original
        lambda d: d["bids"].append([50, []]),  # empty level
        lambda d: d["bids"].append([0, [["x", "u", 1, 1]]]),  # bad price
    ],
)
def test_inconsistent_snapshots_are_refused(asks, mutate):
    data = asks.to_snapshot()
    mutate(data)
    with pytest.raises(ValueError):
        OrderBook.from_snapshot("ABC", data)


# --- memory ---------------------------------------------------------------------------------------
def test_the_book_creates_no_reference_cycles():
    """The engine runs with the cyclic GC frozen/disabled; refcounting must free everything."""
    gc.collect()
    gc.disable()
    try:
        book = OrderBook("X")
        for i in range(2000):
            side = BUY if i % 2 else SELL
            price = 100 + (i * 7) % 11 - 5
            book.place(f"o{i}", f"u{i % 5}", side, LIMIT, (GTC, IOC)[i % 2], 1 + i % 4, price)
            if i % 3 == 0:
                book.cancel(f"o{i // 2}")
            book.place(f"m{i}", "mm", side, MARKET, IOC, 1, 0)
        snapshot = book.to_snapshot()
        OrderBook.from_snapshot("X", snapshot)
        del book, snapshot
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_resting_orders_are_not_tracked_by_the_cyclic_collector():
    """Orders must stay out of the collector's young generation, or its pauses grow with the
    book's churn (see the book's module docstring)."""
    gc.collect()
    book = OrderBook("X")
    before = len(gc.get_objects())
    for i in range(5000):
        side, price = (BUY, 100 - i % 5) if i % 2 else (SELL, 101 + i % 5)
        book.place(f"o{i}", f"u{i % 7}", side, LIMIT, GTC, 1 + i % 3, price)
        book.events.clear()
    assert len(book) == 5000
    # Ten levels: a level object and its deque each, nothing per order.
    assert len(gc.get_objects()) - before <= 40
