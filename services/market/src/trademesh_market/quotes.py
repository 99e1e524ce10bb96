"""A quote: the last trade and the day's volume from the candles, the top of the book
from Redis, and the change against the previous close."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg
import redis.asyncio as redis

from trademesh_market import store
from trademesh_market.book import price_of, read_book
from trademesh_market.store import Instrument

_PERCENT_PLACES = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Quote:
    symbol: str
    last: Decimal | None
    bid: Decimal | None
    bid_size: int
    ask: Decimal | None
    ask_size: int
    previous_close: Decimal
    change: Decimal | None
    change_percent: Decimal | None
    volume: int
    last_trade_at_us: int

    def as_json(self) -> dict[str, Any]:
        def text(value: Decimal | None) -> str | None:
            return None if value is None else str(value)

        return {
            "symbol": self.symbol,
            "last": text(self.last),
            "bid": text(self.bid),
            "bid_size": self.bid_size,
            "ask": text(self.ask),
            "ask_size": self.ask_size,
            "previous_close": text(self.previous_close),
            "change": text(self.change),
            "change_percent": text(self.change_percent),
            "volume": self.volume,
            "last_trade_at_us": self.last_trade_at_us,
        }


async def quote_for(
    pool: asyncpg.Pool, client: redis.Redis, instrument: Instrument, now_us: int
) -> Quote:
    async with pool.acquire() as conn:
        day = await store.day_summary(conn, instrument.symbol, now_us)
    bids, asks = await read_book(client, instrument.symbol, 1)
    previous_close = day.previous_close or instrument.reference_price
    change = change_percent = None
    if day.last is not None:
        change = day.last - previous_close
        change_percent = (change / previous_close * 100).quantize(_PERCENT_PLACES)
    return Quote(
        symbol=instrument.symbol,
        last=day.last,
        bid=price_of(bids[0].price_ticks, instrument.tick_size) if bids else None,
        bid_size=bids[0].quantity if bids else 0,
        ask=price_of(asks[0].price_ticks, instrument.tick_size) if asks else None,
        ask_size=asks[0].quantity if asks else 0,
        previous_close=previous_close,
        change=change,
        change_percent=change_percent,
        volume=day.volume,
        last_trade_at_us=day.last_trade_at_us,
    )
