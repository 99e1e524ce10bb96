"""OHLCV aggregation of trades into candles: pure, so boundaries are easy to test.

A batch of trades becomes one partial candle per (symbol, interval, bucket); the
store then merges partials into what is persisted with the same rules
(`merge`), so the result does not depend on how trades were split into batches.
Open and close follow trade time; trades at the same microsecond keep the
order they arrived in (their order in the `marketdata` partition).
"""

from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal

from trademesh_market.intervals import Interval


@dataclass(frozen=True, slots=True)
class TradeTick:
    trade_id: str
    symbol: str
    price: Decimal
    quantity: int
    at_us: int


@dataclass(frozen=True, slots=True)
class Candle:
    symbol: str
    interval: Interval
    start_us: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int
    trade_count: int
    # Times of the trades that set open and close.
    open_at_us: int
    close_at_us: int


CandleKey = tuple[str, Interval, int]


def candle_of(trade: TradeTick, interval: Interval) -> Candle:
    return Candle(
        symbol=trade.symbol,
        interval=interval,
        start_us=interval.bucket_start(trade.at_us),
        open=trade.price,
        high=trade.price,
        low=trade.price,
        close=trade.price,
        volume=trade.quantity,
        trade_count=1,
        open_at_us=trade.at_us,
        close_at_us=trade.at_us,
    )


def merge(earlier: Candle, later: Candle) -> Candle:
    """Combines two partial candles of one bucket; `later` arrived after `earlier`."""
    takes_open = later.open_at_us < earlier.open_at_us
    takes_close = later.close_at_us >= earlier.close_at_us
    return replace(
        earlier,
        open=later.open if takes_open else earlier.open,
        open_at_us=later.open_at_us if takes_open else earlier.open_at_us,
        high=max(earlier.high, later.high),
        low=min(earlier.low, later.low),
        close=later.close if takes_close else earlier.close,
        close_at_us=later.close_at_us if takes_close else earlier.close_at_us,
        volume=earlier.volume + later.volume,
        trade_count=earlier.trade_count + later.trade_count,
    )


def aggregate(
    trades: Iterable[TradeTick], intervals: Iterable[Interval] = tuple(Interval)
) -> dict[CandleKey, Candle]:
    """One candle per (symbol, interval, bucket) touched by `trades`, in arrival order."""
    chosen = tuple(intervals)
    candles: dict[CandleKey, Candle] = {}
    for trade in trades:
        for interval in chosen:
            candle = candle_of(trade, interval)
            key = (trade.symbol, interval, candle.start_us)
            existing = candles.get(key)
            candles[key] = candle if existing is None else merge(existing, candle)
    return candles
