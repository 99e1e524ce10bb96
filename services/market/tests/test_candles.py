"""Candle aggregation across interval boundaries, with controlled timestamps."""

from datetime import UTC, datetime
from decimal import Decimal

from trademesh_market.candles import TradeTick, aggregate, merge
from trademesh_market.intervals import Interval
from trademesh_market.timestamps import to_us


def at(text: str) -> int:
    return to_us(datetime.fromisoformat(text).replace(tzinfo=UTC))


def trade(n: int, when: str, price: str, quantity: int = 1, symbol: str = "AAPL") -> TradeTick:
    return TradeTick(f"t-{n}", symbol, Decimal(price), quantity, at(when))


def test_buckets_are_utc_aligned():
    moment = at("2024-05-02T13:47:12.5")
    assert Interval.M1.bucket_start(moment) == at("2024-05-02T13:47:00")
    assert Interval.M5.bucket_start(moment) == at("2024-05-02T13:45:00")
    assert Interval.M15.bucket_start(moment) == at("2024-05-02T13:45:00")
    assert Interval.H1.bucket_start(moment) == at("2024-05-02T13:00:00")
    assert Interval.D1.bucket_start(moment) == at("2024-05-02T00:00:00")


def test_a_trade_on_the_boundary_opens_the_next_bucket():
    trades = [
        trade(1, "2024-05-02T13:59:59.999999", "10.00", 2),
        trade(2, "2024-05-02T14:00:00", "11.00", 3),
    ]
    minutes = aggregate(trades, [Interval.M1])
    assert sorted(start for (_, _, start) in minutes) == [
        at("2024-05-02T13:59:00"),
        at("2024-05-02T14:00:00"),
    ]
    hours = aggregate(trades, [Interval.H1])
    before = hours[("AAPL", Interval.H1, at("2024-05-02T13:00:00"))]
    after = hours[("AAPL", Interval.H1, at("2024-05-02T14:00:00"))]
    assert (before.open, before.close, before.volume) == (Decimal("10.00"), Decimal("10.00"), 2)
    assert (after.open, after.close, after.volume) == (Decimal("11.00"), Decimal("11.00"), 3)
    day = aggregate(trades, [Interval.D1])
    (only,) = day.values()
    assert (only.open, only.high, only.low, only.close) == (
        Decimal("10.00"),
        Decimal("11.00"),
        Decimal("10.00"),
        Decimal("11.00"),
    )
    assert (only.volume, only.trade_count) == (5, 2)


def test_ohlcv_within_one_bucket_and_split_at_five_minutes():
    trades = [
        trade(1, "2024-05-02T10:00:05", "100.00", 1),
        trade(2, "2024-05-02T10:01:00", "103.50", 2),
        trade(3, "2024-05-02T10:03:59", "99.25", 3),
        trade(4, "2024-05-02T10:04:59.999", "101.00", 4),
        trade(5, "2024-05-02T10:05:00", "98.00", 5),
    ]
    candles = aggregate(trades, [Interval.M5, Interval.M15])
    first = candles[("AAPL", Interval.M5, at("2024-05-02T10:00:00"))]
    second = candles[("AAPL", Interval.M5, at("2024-05-02T10:05:00"))]
    quarter = candles[("AAPL", Interval.M15, at("2024-05-02T10:00:00"))]
    assert (first.open, first.high, first.low, first.close, first.volume) == (
        Decimal("100.00"),
        Decimal("103.50"),
        Decimal("99.25"),
        Decimal("101.00"),
        10,
    )
    assert (second.open, second.close, second.volume, second.trade_count) == (
        Decimal("98.00"),
        Decimal("98.00"),
        5,
        1,
    )
    assert (quarter.open, quarter.high, quarter.low, quarter.close, quarter.volume) == (
        Decimal("100.00"),
        Decimal("103.50"),
        Decimal("98.00"),
        Decimal("98.00"),
        15,
    )


def test_every_interval_and_symbol_gets_its_own_candles():
    trades = [
        trade(1, "2024-05-02T10:00:00", "1.00"),
        trade(2, "2024-05-02T10:00:00", "2.00", symbol="KO"),
    ]
    candles = aggregate(trades)
    assert len(candles) == 2 * len(Interval)
    assert {symbol for (symbol, _, _) in candles} == {"AAPL", "KO"}


def test_open_and_close_follow_trade_time_not_arrival_order():
    late = trade(2, "2024-05-02T10:00:30", "12.00")
    early = trade(1, "2024-05-02T10:00:10", "11.00")
    (candle,) = aggregate([late, early], [Interval.M1]).values()
    assert (candle.open, candle.close) == (Decimal("11.00"), Decimal("12.00"))


def test_same_microsecond_trades_keep_arrival_order():
    first = trade(1, "2024-05-02T10:00:00", "11.00")
    second = trade(2, "2024-05-02T10:00:00", "12.00")
    (candle,) = aggregate([first, second], [Interval.M1]).values()
    assert (candle.open, candle.close) == (Decimal("11.00"), Decimal("12.00"))


def test_merging_batches_equals_aggregating_at_once():
    trades = [
        trade(i, f"2024-05-02T10:{i % 60:02d}:00", f"{100 + (i * 7) % 13}.00", i)
        for i in range(1, 40)
    ]
    whole = aggregate(trades)
    first, second = aggregate(trades[:17]), aggregate(trades[17:])
    merged = dict(first)
    for key, candle in second.items():
        merged[key] = merge(merged[key], candle) if key in merged else candle
    assert merged == whole
