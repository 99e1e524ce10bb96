"""Public market data: the live book (MatchingService); instruments, quotes, depth, candles
and fundamentals (MarketService). None of these need a caller."""

from datetime import datetime
from typing import Annotated

from fastapi import FastAPI, Query
from fastapi.responses import Response

from trademesh.market.v1 import market_pb2
from trademesh.matching.v1 import matching_pb2
from trademesh_gateway.backends import Backends
from trademesh_gateway.errors import ApiError
from trademesh_gateway.instruments import InstrumentCache
from trademesh_gateway.live_quotes import LiveQuoteCache, market_quote_fetch
from trademesh_gateway.market_mapping import (
    INTERVALS,
    candles_from_proto,
    depth_from_proto,
    fundamentals_from_proto,
    instruments_from_proto,
    micros,
)
from trademesh_gateway.openapi_docs import error_responses
from trademesh_gateway.proto_mapping import book_from_proto
from trademesh_gateway.routes import API_PREFIX
from trademesh_gateway.routes.params import ISO_OR_UNIX_SECONDS_SCHEMA, SymbolParam
from trademesh_gateway.schemas.market import (
    CandleInterval,
    CandlePage,
    Depth,
    Fundamentals,
    InstrumentList,
    OrderBook,
    Quote,
)

MAX_BOOK_DEPTH = 50
MAX_SEARCH_RESULTS = 100
MAX_CANDLES = 1000

DepthQuery = Annotated[int, Query(ge=1, le=MAX_BOOK_DEPTH, description="Price levels per side.")]


def _query_micros(moment: datetime) -> int:
    value = micros(moment)
    if value <= 0:
        raise ApiError(400, "invalid_argument", "times must be after 1970-01-01T00:00:00Z")
    return value


def add_market_routes(
    app: FastAPI,
    backends: Backends,
    instruments: InstrumentCache,
    quotes: LiveQuoteCache | None = None,
) -> None:
    if quotes is None:
        # Never fed by the live feed, it stores nothing: each read asks market (concurrent
        # reads of one symbol still share a call).
        quotes = LiveQuoteCache(market_quote_fetch(backends), max_age_seconds=1.0)
    quote_cache = quotes

    # First: the most frequent read is matched soonest.
    @app.get(
        f"{API_PREFIX}/market/{{symbol}}/quote",
        tags=["market data"],
        summary="Last trade, best bid and ask, change against the previous close, volume",
        description="At most `TRADEMESH_QUOTE_CACHE_MAX_AGE_SECONDS` (default 1 s) behind "
        "the market service: the gateway answers from the live quote feed.",
        responses=error_responses(404),
        response_model=Quote,
    )
    async def get_quote(symbol: SymbolParam) -> Response:
        # The body comes encoded from the cache: no model is built or validated per read.
        return Response(await quote_cache.get(symbol), media_type="application/json")

    @app.get(
        f"{API_PREFIX}/market/{{symbol}}/book",
        tags=["market data"],
        summary="Aggregated order book: price levels per side, best first",
        responses=error_responses(404),
    )
    async def get_book(symbol: SymbolParam, depth: DepthQuery = 10) -> OrderBook:
        # Order entry's instrument list decides which symbols exist, and their tick sizes.
        rules = await instruments.get(symbol)
        if rules is None:
            raise ApiError(404, "not_found", f"unknown symbol: {symbol}")
        reply = await backends.matching.GetDepth(
            matching_pb2.GetDepthRequest(symbol=symbol, depth=depth),
            timeout=backends.call_timeout,
        )
        return book_from_proto(reply, rules.tick_size)

    @app.get(
        f"{API_PREFIX}/market/instruments",
        tags=["market data"],
        summary="Search instruments by symbol prefix or part of the name",
        responses=error_responses(),
    )
    async def search_instruments(
        q: Annotated[
            str, Query(max_length=64, description="Symbol prefix or part of the name.")
        ] = "",
        limit: Annotated[int, Query(ge=1, le=MAX_SEARCH_RESULTS)] = 20,
    ) -> InstrumentList:
        reply = await backends.market.SearchInstruments(
            market_pb2.SearchInstrumentsRequest(query=q, limit=limit),
            timeout=backends.call_timeout,
        )
        return instruments_from_proto(reply)

    @app.get(
        f"{API_PREFIX}/market/{{symbol}}/depth",
        tags=["market data"],
        summary="Market depth: aggregated price levels per side, best first",
        responses=error_responses(404),
    )
    async def get_depth(symbol: SymbolParam, depth: DepthQuery = 10) -> Depth:
        reply = await backends.market.GetDepth(
            market_pb2.GetDepthRequest(symbol=symbol, depth=depth), timeout=backends.call_timeout
        )
        return depth_from_proto(reply)

    @app.get(
        f"{API_PREFIX}/market/{{symbol}}/candles",
        tags=["market data"],
        summary="OHLCV candles from the exchange's trades, newest page of a time range",
        description="Returns the newest `limit` candles whose start is in [`from`, `to`), "
        "oldest first. To scroll back, pass the answer's `next_to` as `to`. Times are "
        "ISO 8601 (UTC if no zone is given) or Unix seconds.",
        responses=error_responses(404),
    )
    async def get_candles(
        symbol: SymbolParam,
        interval: CandleInterval = CandleInterval.M1,
        from_: Annotated[
            datetime | None, Query(alias="from", json_schema_extra=ISO_OR_UNIX_SECONDS_SCHEMA)
        ] = None,
        to: Annotated[datetime | None, Query(json_schema_extra=ISO_OR_UNIX_SECONDS_SCHEMA)] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_CANDLES)] = 500,
    ) -> CandlePage:
        from_us = _query_micros(from_) if from_ is not None else 0
        to_us = _query_micros(to) if to is not None else 0
        if from_us and to_us and from_us >= to_us:
            raise ApiError(400, "invalid_argument", "from must be before to")
        reply = await backends.market.GetCandles(
            market_pb2.GetCandlesRequest(
                symbol=symbol,
                interval=INTERVALS[interval],
                from_us=from_us,
                to_us=to_us,
                limit=limit,
            ),
            timeout=backends.call_timeout,
        )
        return candles_from_proto(reply, interval)

    @app.get(
        f"{API_PREFIX}/market/{{symbol}}/fundamentals",
        tags=["market data"],
        summary="Fundamentals: raw inputs and derived metrics, each null with a reason",
        responses=error_responses(404),
    )
    async def get_fundamentals(symbol: SymbolParam) -> Fundamentals:
        reply = await backends.market.GetFundamentals(
            market_pb2.GetFundamentalsRequest(symbol=symbol), timeout=backends.call_timeout
        )
        return fundamentals_from_proto(reply)
