"""A quote: the last trade and the day's volume from the candles, the top of the book
from Redis, and the change against the previous close.

Reads are served from a materialized copy in Redis (one GET): the marketdata consumer
rewrites it after every batch that touches the symbol, and a read that finds none
computes it from PostgreSQL and stores it only if the consumer has not meanwhile
(SET NX), so an older computation never replaces a newer one. The copy is keyed by
day, because the day's volume and the previous close change at midnight without a
trade; its expiry bounds how long a failed rewrite can leave it stale.
"""

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg
import redis.asyncio as redis
from redis.asyncio.client import Pipeline

from trademesh_market import store
from trademesh_market.book import price_of, read_book
from trademesh_market.intervals import Interval
from trademesh_market.store import Instrument

_PERCENT_PLACES = Decimal("0.01")
QUOTE_TTL_SECONDS = 60


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

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Quote":
        def number(value: str | None) -> Decimal | None:
            return None if value is None else Decimal(value)

        previous_close = number(data["previous_close"])
        assert previous_close is not None
        return cls(
            symbol=data["symbol"],
            last=number(data["last"]),
            bid=number(data["bid"]),
            bid_size=data["bid_size"],
            ask=number(data["ask"]),
            ask_size=data["ask_size"],
            previous_close=previous_close,
            change=number(data["change"]),
            change_percent=number(data["change_percent"]),
            volume=data["volume"],
            last_trade_at_us=data["last_trade_at_us"],
        )


def quote_key(symbol: str, now_us: int) -> str:
    return f"market:quote:{symbol}:{Interval.D1.bucket_start(now_us)}"


def _encode(quote: Quote) -> str:
    return json.dumps(quote.as_json(), separators=(",", ":"))


def store_quote(pipeline: Pipeline, quote: Quote, now_us: int) -> None:
    """Queues the rewrite of the materialized quote, computed at `now_us`."""
    pipeline.set(quote_key(quote.symbol, now_us), _encode(quote), ex=QUOTE_TTL_SECONDS)


async def current_quote(
    pool: asyncpg.Pool, client: redis.Redis, instrument: Instrument, now_us: int
) -> Quote:
    """The materialized quote, computed (and stored) when there is none for today."""
    key = quote_key(instrument.symbol, now_us)
    stored = await client.get(key)
    if stored is not None:
        return Quote.from_json(json.loads(stored))
    quote = await quote_for(pool, client, instrument, now_us)
    await client.set(key, _encode(quote), ex=QUOTE_TTL_SECONDS, nx=True)
    return quote


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
