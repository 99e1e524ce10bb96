"""The `marketdata` consumer: matching's trades and level changes into candles, the book
and live updates.

Per batch: decode and check every record (bad ones go to `marketdata.dlq`);
apply the trades to the candles in one PostgreSQL transaction (trade ids make a
redelivered trade a no-op); apply the level changes to the book in Redis (each
carries the level's new total, so replaying is harmless); publish the live
updates and observe each event's delay since matching created it; then commit
the offsets. Anything failing before the commit is
retried in place, and a crash replays the batch.
"""

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import redis.asyncio as redis
from confluent_kafka import Message
from google.protobuf.message import DecodeError

from trademesh.events.v1 import marketdata_pb2, orders_pb2
from trademesh_common.kafka import (
    AsyncBatchConsumer,
    AsyncProducer,
    dead_letter,
)
from trademesh_common.metrics import KAFKA_RECORDS_CONSUMED
from trademesh_common.retry import until_done
from trademesh_market import live, store
from trademesh_market.book import ASK, BID, apply_level, price_of
from trademesh_market.candles import Candle, TradeTick
from trademesh_market.metrics import UPDATE_DELAY_SECONDS
from trademesh_market.quotes import quote_for, store_quote
from trademesh_market.store import Instrument
from trademesh_market.timestamps import to_us

log = logging.getLogger(__name__)


CONSUMER_GROUP = "market"
BATCH_SIZE = 500
POLL_TIMEOUT_SECONDS = 0.1
_SIDES = {orders_pb2.SIDE_BUY: BID, orders_pb2.SIDE_SELL: ASK}
# A record that decodes but cannot be stored would be retried forever and stall its
# partition, so decode() refuses it up front: times a datetime can hold (before the year
# 10000) and trade ids PostgreSQL can store and index (no NUL, short).
MAX_TIME_US = to_us(datetime(9999, 12, 31, tzinfo=UTC))
MAX_TRADE_ID_CHARS = 128


class BadEvent(ValueError):
    """A record that can never be applied; its message is the dead-letter reason."""


@dataclass(frozen=True, slots=True)
class LevelChange:
    symbol: str
    side: str
    price_ticks: int
    quantity: int
    at_us: int


@dataclass
class DecodedBatch:
    trades: list[TradeTick] = field(default_factory=list)
    levels: list[LevelChange] = field(default_factory=list)
    dead_letters: list[tuple[Message, str]] = field(default_factory=list)
    # The record each trade came from, to dead-letter a trade the store refuses.
    sources: dict[TradeTick, Message] = field(default_factory=dict)


def decode_batch(
    messages: Sequence[Message], instruments: Mapping[str, Instrument]
) -> DecodedBatch:
    batch = DecodedBatch()
    for message in messages:
        try:
            event = decode(message.value() or b"", instruments)
        except BadEvent as error:
            batch.dead_letters.append((message, str(error)))
            continue
        if isinstance(event, TradeTick):
            batch.trades.append(event)
            batch.sources[event] = message
        else:
            batch.levels.append(event)
    return batch


def decode(value: bytes, instruments: Mapping[str, Instrument]) -> TradeTick | LevelChange:
    try:
        event = marketdata_pb2.MarketDataEvent.FromString(value)
    except DecodeError as error:
        raise BadEvent(f"undecodable: {error}") from error
    instrument = instruments.get(event.symbol)
    if instrument is None:
        raise BadEvent(f"unknown symbol: {event.symbol!r}")
    kind = event.WhichOneof("event")
    if kind == "trade":
        trade = event.trade
        if not trade.trade_id:
            raise BadEvent("trade without trade_id")
        if len(trade.trade_id) > MAX_TRADE_ID_CHARS or "\x00" in trade.trade_id:
            raise BadEvent(f"trade_id longer than {MAX_TRADE_ID_CHARS} characters or with NUL")
        if trade.price_ticks <= 0 or trade.quantity <= 0 or trade.created_at_us <= 0:
            raise BadEvent("trade price, quantity and time must be positive")
        if trade.created_at_us > MAX_TIME_US:
            raise BadEvent(f"trade time beyond the year 9999: {trade.created_at_us}")
        return TradeTick(
            trade_id=trade.trade_id,
            symbol=event.symbol,
            price=price_of(trade.price_ticks, instrument.tick_size),
            quantity=trade.quantity,
            at_us=trade.created_at_us,
        )
    if kind == "book_delta":
        delta = event.book_delta
        side = _SIDES.get(delta.side)
        if side is None:
            raise BadEvent(f"book delta with unknown side {delta.side}")
        if delta.price_ticks <= 0 or delta.quantity < 0:
            raise BadEvent("book delta price must be positive and quantity not negative")
        if not 0 <= delta.created_at_us <= MAX_TIME_US:
            raise BadEvent(f"book delta time out of range: {delta.created_at_us}")
        return LevelChange(
            event.symbol, side, delta.price_ticks, delta.quantity, delta.created_at_us
        )
    raise BadEvent("event without a trade or a book delta")


class MarketDataConsumer:
    def __init__(
        self,
        consumer: AsyncBatchConsumer,
        producer: AsyncProducer,
        pool: asyncpg.Pool,
        client: redis.Redis,
        instruments: Mapping[str, Instrument],
        topic: str,
    ) -> None:
        self._consumer = consumer
        self._producer = producer
        self._pool = pool
        self._redis = client
        self._instruments = instruments
        self._topic = topic

    @property
    def assigned(self) -> bool:
        return self._consumer.assigned

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            messages = await self._consumer.poll_batch(BATCH_SIZE, POLL_TIMEOUT_SECONDS)
            if messages:
                await self.process(messages, stop)

    async def process(self, messages: Sequence[Message], stop: asyncio.Event) -> None:
        batch = decode_batch(messages, self._instruments)
        applied = await until_done("apply trades to candles", self._record, batch, stop=stop)
        if applied is None:
            return  # stopping: nothing committed, the batch is replayed
        if (
            await until_done("apply book levels", self._apply_levels, batch.levels, stop=stop)
            is None
        ):
            return
        if await until_done("dead-letter records", self._dead_letter, batch, stop=stop) is None:
            return
        fresh, candles = applied
        try:
            await self._publish_live(fresh, candles, batch.levels)
        except Exception:  # live pushes are best effort: the stored state is already right
            log.exception("could not publish live market updates")
        else:
            _observe_delays(batch)
        KAFKA_RECORDS_CONSUMED.labels(self._topic, "ok").inc(
            len(messages) - len(batch.dead_letters)
        )
        try:
            await self._consumer.commit(messages)
        except Exception as exc:  # e.g. partitions revoked: the new owner replays harmlessly
            log.warning("could not commit marketdata offsets", extra={"error": repr(exc)})

    async def _record(self, batch: DecodedBatch) -> tuple[list[TradeTick], list[Candle]]:
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                return await store.record_trades(conn, batch.trades)
        except asyncpg.DataError:
            # A trade the store can never hold (e.g. its quantity overflows its candles'
            # volume) would fail this batch forever: apply the trades one by one instead
            # and dead-letter only the ones refused, so the partition moves on.
            pass
        fresh: list[TradeTick] = []
        candles: list[Candle] = []
        refused: list[tuple[Message, str]] = []
        for trade in batch.trades:
            try:
                async with self._pool.acquire() as conn, conn.transaction():
                    new, changed = await store.record_trades(conn, [trade])
            except asyncpg.DataError as error:
                refused.append((batch.sources[trade], f"cannot be stored: {error}"))
                continue
            fresh += new
            candles += changed
        batch.dead_letters += refused
        return fresh, candles

    async def _apply_levels(self, levels: list[LevelChange]) -> bool:
        if levels:
            async with self._redis.pipeline(transaction=False) as pipeline:
                for level in levels:
                    apply_level(
                        pipeline, level.symbol, level.side, level.price_ticks, level.quantity
                    )
                await pipeline.execute()
        return True

    async def _dead_letter(self, batch: DecodedBatch) -> bool:
        return await dead_letter(self._producer, self._topic, batch.dead_letters)

    async def _publish_live(
        self, trades: list[TradeTick], candles: list[Candle], levels: list[LevelChange]
    ) -> None:
        touched = {t.symbol for t in trades} | {level.symbol for level in levels}
        if not touched:
            return
        now_us = time.time_ns() // 1000
        quotes = [
            await quote_for(self._pool, self._redis, self._instruments[symbol], now_us)
            for symbol in sorted(touched)
        ]
        async with self._redis.pipeline(transaction=False) as pipeline:
            for trade in trades:
                live.publish(pipeline, live.TRADES, trade.symbol, trade_json(trade))
            for candle in candles:
                live.publish(pipeline, live.CANDLES, candle.symbol, candle_json(candle))
            for level in levels:
                live.publish(pipeline, live.BOOK, level.symbol, self._level_json(level))
            for quote in quotes:
                store_quote(pipeline, quote, now_us)
                live.publish(pipeline, live.QUOTES, quote.symbol, quote.as_json())
            await pipeline.execute()

    def _level_json(self, level: LevelChange) -> dict[str, Any]:
        tick_size = self._instruments[level.symbol].tick_size
        return {
            "symbol": level.symbol,
            "side": level.side,
            "price": str(price_of(level.price_ticks, tick_size)),
            "quantity": level.quantity,
            "at_us": level.at_us,
        }


def _observe_delays(batch: DecodedBatch) -> None:
    """Every event of the batch is served now (a redelivered one too: it may never have
    been). Matching's clock may run a little ahead of ours: a negative delay counts as 0."""
    now_us = time.time_ns() // 1000
    for event in (*batch.trades, *batch.levels):
        UPDATE_DELAY_SECONDS.observe(max(0, now_us - event.at_us) / 1_000_000)


def trade_json(trade: TradeTick) -> dict[str, Any]:
    return {
        "trade_id": trade.trade_id,
        "symbol": trade.symbol,
        "price": str(trade.price),
        "quantity": trade.quantity,
        "at_us": trade.at_us,
    }


def candle_json(candle: Candle) -> dict[str, Any]:
    return {
        "symbol": candle.symbol,
        "interval": candle.interval.value,
        "start_us": candle.start_us,
        "open": str(candle.open),
        "high": str(candle.high),
        "low": str(candle.low),
        "close": str(candle.close),
        "volume": candle.volume,
        "trade_count": candle.trade_count,
    }
