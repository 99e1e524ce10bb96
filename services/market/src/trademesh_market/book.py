"""The aggregated order book per symbol, in Redis, from matching's level changes.

Each BookDelta carries a level's new total, so applying one is idempotent and a
replayed batch converges to the same book. Two hashes per symbol (bids and asks)
map the price in ticks to the quantity resting there.
"""

from dataclasses import dataclass
from decimal import Decimal

import redis.asyncio as redis
from redis.asyncio.client import Pipeline

BID = "bid"
ASK = "ask"


@dataclass(frozen=True, slots=True)
class Level:
    price_ticks: int
    quantity: int


def book_key(symbol: str, side: str) -> str:
    return f"market:book:{symbol}:{side}"


def apply_level(
    pipeline: Pipeline, symbol: str, side: str, price_ticks: int, quantity: int
) -> None:
    key = book_key(symbol, side)
    if quantity == 0:
        pipeline.hdel(key, str(price_ticks))
    else:
        pipeline.hset(key, str(price_ticks), str(quantity))


async def read_book(
    client: redis.Redis, symbol: str, depth: int
) -> tuple[list[Level], list[Level]]:
    """(bids best first, asks best first), at most `depth` levels each."""
    async with client.pipeline(transaction=True) as pipeline:
        pipeline.hgetall(book_key(symbol, BID))
        pipeline.hgetall(book_key(symbol, ASK))
        bids_raw, asks_raw = await pipeline.execute()
    bids = sorted((Level(int(p), int(q)) for p, q in bids_raw.items()), key=_price, reverse=True)
    asks = sorted((Level(int(p), int(q)) for p, q in asks_raw.items()), key=_price)
    return bids[:depth], asks[:depth]


def _price(level: Level) -> int:
    return level.price_ticks


def price_of(ticks: int, tick_size: Decimal) -> Decimal:
    return ticks * tick_size
