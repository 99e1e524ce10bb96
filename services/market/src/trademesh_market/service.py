"""The MarketService gRPC API."""

import time
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal

import asyncpg
import grpc
import redis.asyncio as redis

from trademesh.market.v1 import market_pb2, market_pb2_grpc
from trademesh_market import store
from trademesh_market.book import price_of, read_book
from trademesh_market.fundamentals.metrics import Value, derive
from trademesh_market.fundamentals.provider import (
    INPUT_UNITS,
    FundamentalsProvider,
    ProviderError,
)
from trademesh_market.intervals import Interval
from trademesh_market.quotes import current_quote
from trademesh_market.store import Instrument

DEFAULT_SEARCH_LIMIT = 20
MAX_SEARCH_LIMIT = 100
DEFAULT_DEPTH = 10
MAX_DEPTH = 50
DEFAULT_CANDLES = 500
MAX_CANDLES = 1000
_YEAR_US = timedelta(weeks=52) // timedelta(microseconds=1)


def _text(value: Decimal | None) -> str:
    return "" if value is None else str(value)


def _now_us() -> int:
    return time.time_ns() // 1000


class MarketServicer(market_pb2_grpc.MarketServiceServicer):
    def __init__(
        self,
        pool: asyncpg.Pool,
        client: redis.Redis,
        instruments: Mapping[str, Instrument],
        fundamentals: FundamentalsProvider,
    ) -> None:
        self._pool = pool
        self._redis = client
        self._instruments = instruments
        self._fundamentals = fundamentals

    async def _instrument(self, symbol: str, context: grpc.aio.ServicerContext) -> Instrument:
        instrument = self._instruments.get(symbol)
        if instrument is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown symbol: {symbol}")
        assert instrument is not None
        return instrument

    async def SearchInstruments(
        self, request: market_pb2.SearchInstrumentsRequest, context: grpc.aio.ServicerContext
    ) -> market_pb2.SearchInstrumentsResponse:
        if request.limit < 0 or request.limit > MAX_SEARCH_LIMIT:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"limit must be 0..{MAX_SEARCH_LIMIT}"
            )
        if "\x00" in request.query:  # PostgreSQL cannot compare text holding NUL
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "query must not contain NUL")
        async with self._pool.acquire() as conn:
            found = await store.search_instruments(
                conn, request.query, request.limit or DEFAULT_SEARCH_LIMIT
            )
        return market_pb2.SearchInstrumentsResponse(
            instruments=[
                market_pb2.Instrument(
                    symbol=i.symbol,
                    name=i.name,
                    sector=i.sector,
                    tick_size=str(i.tick_size),
                    lot_size=i.lot_size,
                    currency=i.currency,
                )
                for i in found
            ]
        )

    async def GetQuote(
        self, request: market_pb2.GetQuoteRequest, context: grpc.aio.ServicerContext
    ) -> market_pb2.Quote:
        instrument = await self._instrument(request.symbol, context)
        quote = await current_quote(self._pool, self._redis, instrument, _now_us())
        return market_pb2.Quote(
            symbol=quote.symbol,
            last=_text(quote.last),
            bid=_text(quote.bid),
            bid_size=quote.bid_size,
            ask=_text(quote.ask),
            ask_size=quote.ask_size,
            previous_close=_text(quote.previous_close),
            change=_text(quote.change),
            change_percent=_text(quote.change_percent),
            volume=quote.volume,
            last_trade_at_us=quote.last_trade_at_us,
        )

    async def GetDepth(
        self, request: market_pb2.GetDepthRequest, context: grpc.aio.ServicerContext
    ) -> market_pb2.GetDepthResponse:
        instrument = await self._instrument(request.symbol, context)
        if request.depth < 0 or request.depth > MAX_DEPTH:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"depth must be 0..{MAX_DEPTH}")
        bids, asks = await read_book(self._redis, instrument.symbol, request.depth or DEFAULT_DEPTH)

        def levels(side: list) -> list[market_pb2.DepthLevel]:
            return [
                market_pb2.DepthLevel(
                    price=str(price_of(level.price_ticks, instrument.tick_size)),
                    quantity=level.quantity,
                )
                for level in side
            ]

        return market_pb2.GetDepthResponse(
            symbol=instrument.symbol, bids=levels(bids), asks=levels(asks)
        )

    async def GetCandles(
        self, request: market_pb2.GetCandlesRequest, context: grpc.aio.ServicerContext
    ) -> market_pb2.GetCandlesResponse:
        instrument = await self._instrument(request.symbol, context)
        try:
            interval = Interval.from_proto(request.interval)
        except ValueError as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        if request.limit < 0 or request.limit > MAX_CANDLES:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"limit must be 0..{MAX_CANDLES}")
        if request.from_us < 0 or request.to_us < 0:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "from and to must not be negative"
            )
        if request.from_us and request.to_us and request.from_us >= request.to_us:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "from must be before to")
        async with self._pool.acquire() as conn:
            candles, more = await store.candles_page(
                conn,
                instrument.symbol,
                interval,
                request.from_us or None,
                request.to_us or None,
                request.limit or DEFAULT_CANDLES,
            )
        return market_pb2.GetCandlesResponse(
            symbol=instrument.symbol,
            interval=interval.to_proto(),
            candles=[
                market_pb2.Candle(
                    start_us=c.start_us,
                    open=str(c.open),
                    high=str(c.high),
                    low=str(c.low),
                    close=str(c.close),
                    volume=c.volume,
                    trade_count=c.trade_count,
                )
                for c in candles
            ],
            next_to_us=candles[0].start_us if more and candles else 0,
        )

    async def GetFundamentals(
        self, request: market_pb2.GetFundamentalsRequest, context: grpc.aio.ServicerContext
    ) -> market_pb2.GetFundamentalsResponse:
        instrument = await self._instrument(request.symbol, context)
        try:
            raw = await self._fundamentals.fetch(instrument.symbol)
        except ProviderError as error:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(error))
        if raw is None:
            await context.abort(
                grpc.StatusCode.NOT_FOUND,
                f"no fundamentals for {instrument.symbol} from {self._fundamentals.source}",
            )
        assert raw is not None
        now_us = _now_us()
        quote = await current_quote(self._pool, self._redis, instrument, now_us)
        price, basis = (
            (quote.last, "last_trade")
            if quote.last is not None
            else (quote.previous_close, "previous_close")
        )
        async with self._pool.acquire() as conn:
            week_52 = await store.daily_range(
                conn, instrument.symbol, Interval.D1.bucket_start(now_us - _YEAR_US)
            )
        inputs = [
            Value(name, raw.get(name), "" if raw.get(name) is not None else "not provided", unit)
            for name, unit in INPUT_UNITS.items()
        ]
        return market_pb2.GetFundamentalsResponse(
            symbol=instrument.symbol,
            source=raw.source,
            currency=raw.currency,
            period=raw.period,
            price=str(price),
            price_basis=basis,
            inputs=[_value(v) for v in inputs],
            metrics=[_value(v) for v in derive(raw, price, week_52)],
        )


def _value(value: Value) -> market_pb2.FundamentalValue:
    message = market_pb2.FundamentalValue(name=value.name, reason=value.reason, unit=value.unit)
    if value.value is not None:
        message.value = str(value.value)
    return message
