"""Public market data: the live order book (MatchingService)."""

from typing import Annotated

from fastapi import FastAPI, Query

from trademesh.matching.v1 import matching_pb2
from trademesh_gateway.backends import Backends
from trademesh_gateway.errors import ApiError
from trademesh_gateway.instruments import InstrumentCache
from trademesh_gateway.openapi_docs import error_responses
from trademesh_gateway.proto_mapping import book_from_proto
from trademesh_gateway.routes import API_PREFIX
from trademesh_gateway.routes.params import SymbolParam
from trademesh_gateway.schemas.market import OrderBook

MAX_BOOK_DEPTH = 50


def add_market_routes(app: FastAPI, backends: Backends, instruments: InstrumentCache) -> None:
    @app.get(
        f"{API_PREFIX}/market/{{symbol}}/book",
        tags=["market data"],
        summary="Aggregated order book: price levels per side, best first",
        responses=error_responses(404),
    )
    async def get_book(
        symbol: SymbolParam,
        depth: Annotated[
            int, Query(ge=1, le=MAX_BOOK_DEPTH, description="Price levels per side.")
        ] = 10,
    ) -> OrderBook:
        # Order entry's instrument list decides which symbols exist, and their tick sizes.
        rules = await instruments.get(symbol)
        if rules is None:
            raise ApiError(404, "not_found", f"unknown symbol: {symbol}")
        reply = await backends.matching.GetDepth(
            matching_pb2.GetDepthRequest(symbol=symbol, depth=depth),
            timeout=backends.call_timeout,
        )
        return book_from_proto(reply, rules.tick_size)
