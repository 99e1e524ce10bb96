"""The market database: instruments, applied trades and candles."""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import asyncpg

from trademesh_market.candles import Candle, TradeTick, aggregate
from trademesh_market.intervals import Interval
from trademesh_market.timestamps import from_us, to_us


@dataclass(frozen=True, slots=True)
class Instrument:
    symbol: str
    name: str
    sector: str
    currency: str
    tick_size: Decimal
    lot_size: int
    reference_price: Decimal


@dataclass(frozen=True, slots=True)
class DaySummary:
    """What a quote needs from the candles: today's daily candle and the close before it."""

    last: Decimal | None
    last_trade_at_us: int
    volume: int
    previous_close: Decimal | None


def _instrument(row: asyncpg.Record) -> Instrument:
    return Instrument(
        symbol=row["symbol"],
        name=row["name"],
        sector=row["sector"],
        currency=row["currency"],
        tick_size=row["tick_size"],
        lot_size=row["lot_size"],
        reference_price=row["reference_price"],
    )


async def list_instruments(conn: asyncpg.Connection) -> list[Instrument]:
    return [_instrument(r) for r in await conn.fetch("SELECT * FROM instruments ORDER BY symbol")]


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def search_instruments(conn: asyncpg.Connection, query: str, limit: int) -> list[Instrument]:
    """Symbol-prefix matches first (exact symbol on top), then name matches, each by symbol."""
    needle = _like_escape(query.strip().lower())
    rows = await conn.fetch(
        """
        SELECT *, lower(symbol) = $1 AS exact, lower(symbol) LIKE $1 || '%' AS by_symbol
        FROM instruments
        WHERE lower(symbol) LIKE $1 || '%' OR lower(name) LIKE '%' || $1 || '%'
        ORDER BY exact DESC, by_symbol DESC, symbol
        LIMIT $2
        """,
        needle,
        limit,
    )
    return [_instrument(r) for r in rows]


async def record_trades(
    conn: asyncpg.Connection, trades: Sequence[TradeTick]
) -> tuple[list[TradeTick], list[Candle]]:
    """Applies the trades not seen before to the candles, in one statement each.

    Returns the new trades and every candle they changed, as persisted. Call inside a
    transaction: a redelivered trade is then either wholly applied already or not at all.
    """
    if not trades:
        return [], []
    inserted = await conn.fetch(
        """
        INSERT INTO trades (trade_id, symbol, price, quantity, traded_at)
        SELECT * FROM unnest($1::text[], $2::text[], $3::numeric[], $4::bigint[],
                             $5::timestamptz[])
        ON CONFLICT (trade_id) DO NOTHING
        RETURNING trade_id
        """,
        [t.trade_id for t in trades],
        [t.symbol for t in trades],
        [t.price for t in trades],
        [t.quantity for t in trades],
        [from_us(t.at_us) for t in trades],
    )
    fresh_ids = {r["trade_id"] for r in inserted}
    fresh: list[TradeTick] = []
    for trade in trades:
        if trade.trade_id in fresh_ids:
            fresh.append(trade)
            fresh_ids.discard(trade.trade_id)  # a duplicate inside the batch counts once
    partials = list(aggregate(fresh).values())
    if not partials:
        return [], []
    # The same merge rules as candles.merge, with the stored candle as the earlier one.
    rows = await conn.fetch(
        """
        INSERT INTO candles AS c (symbol, interval, start_at, open, high, low, close, volume,
                                  trade_count, open_at, close_at)
        SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::numeric[],
                             $5::numeric[], $6::numeric[], $7::numeric[], $8::bigint[],
                             $9::bigint[], $10::timestamptz[], $11::timestamptz[])
        ON CONFLICT (symbol, interval, start_at) DO UPDATE SET
            open = CASE WHEN excluded.open_at < c.open_at THEN excluded.open ELSE c.open END,
            open_at = LEAST(c.open_at, excluded.open_at),
            high = GREATEST(c.high, excluded.high),
            low = LEAST(c.low, excluded.low),
            close = CASE WHEN excluded.close_at >= c.close_at
                         THEN excluded.close ELSE c.close END,
            close_at = GREATEST(c.close_at, excluded.close_at),
            volume = c.volume + excluded.volume,
            trade_count = c.trade_count + excluded.trade_count
        RETURNING *
        """,
        [c.symbol for c in partials],
        [c.interval.value for c in partials],
        [from_us(c.start_us) for c in partials],
        [c.open for c in partials],
        [c.high for c in partials],
        [c.low for c in partials],
        [c.close for c in partials],
        [c.volume for c in partials],
        [c.trade_count for c in partials],
        [from_us(c.open_at_us) for c in partials],
        [from_us(c.close_at_us) for c in partials],
    )
    return fresh, [_candle(r) for r in rows]


def _candle(row: asyncpg.Record) -> Candle:
    return Candle(
        symbol=row["symbol"],
        interval=Interval(row["interval"]),
        start_us=to_us(row["start_at"]),
        open=row["open"],
        high=row["high"],
        low=row["low"],
        close=row["close"],
        volume=row["volume"],
        trade_count=row["trade_count"],
        open_at_us=to_us(row["open_at"]),
        close_at_us=to_us(row["close_at"]),
    )


async def candles_page(
    conn: asyncpg.Connection,
    symbol: str,
    interval: Interval,
    since_us: int | None,
    until_us: int | None,
    limit: int,
) -> tuple[list[Candle], bool]:
    """The newest `limit` candles starting in [since, until), oldest first; and whether older
    ones remain in the range."""
    rows = await conn.fetch(
        """
        SELECT * FROM candles
        WHERE symbol = $1 AND interval = $2
          AND ($3::timestamptz IS NULL OR start_at >= $3)
          AND ($4::timestamptz IS NULL OR start_at < $4)
        ORDER BY start_at DESC
        LIMIT $5
        """,
        symbol,
        interval.value,
        None if since_us is None else from_us(since_us),
        None if until_us is None else from_us(until_us),
        limit + 1,
    )
    more = len(rows) > limit
    return [_candle(r) for r in reversed(rows[:limit])], more


async def day_summary(conn: asyncpg.Connection, symbol: str, now_us: int) -> DaySummary:
    today = from_us(Interval.D1.bucket_start(now_us))
    row = await conn.fetchrow(
        """
        SELECT
          (SELECT close FROM candles WHERE symbol = $1 AND interval = '1d'
             ORDER BY start_at DESC LIMIT 1) AS last,
          (SELECT close_at FROM candles WHERE symbol = $1 AND interval = '1d'
             ORDER BY start_at DESC LIMIT 1) AS last_at,
          (SELECT volume FROM candles WHERE symbol = $1 AND interval = '1d'
             AND start_at = $2) AS volume,
          (SELECT close FROM candles WHERE symbol = $1 AND interval = '1d'
             AND start_at < $2 ORDER BY start_at DESC LIMIT 1) AS previous_close
        """,
        symbol,
        today,
    )
    assert row is not None
    return DaySummary(
        last=row["last"],
        last_trade_at_us=0 if row["last_at"] is None else to_us(row["last_at"]),
        volume=row["volume"] or 0,
        previous_close=row["previous_close"],
    )


async def daily_range(
    conn: asyncpg.Connection, symbol: str, since_us: int
) -> tuple[Decimal | None, Decimal | None]:
    """(high, low) over the daily candles starting at or after `since_us`."""
    row = await conn.fetchrow(
        "SELECT max(high) AS high, min(low) AS low FROM candles"
        " WHERE symbol = $1 AND interval = '1d' AND start_at >= $2",
        symbol,
        from_us(since_us),
    )
    assert row is not None
    return row["high"], row["low"]
