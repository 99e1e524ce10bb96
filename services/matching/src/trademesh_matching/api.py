"""Matching's gRPC read API: the live book per symbol and trades by id."""

import grpc
import orjson
from redis.asyncio import Redis

from trademesh.matching.v1 import matching_pb2, matching_pb2_grpc
from trademesh_matching.processor import DepthView
from trademesh_matching.snapshots import trade_key

DEFAULT_DEPTH = 10
MAX_DEPTH = 50


class MatchingApi(matching_pb2_grpc.MatchingServiceServicer):
    def __init__(self, depth: dict[str, DepthView], redis_client: Redis) -> None:
        self._depth = depth
        self._redis = redis_client

    async def GetDepth(
        self, request: matching_pb2.GetDepthRequest, context: grpc.aio.ServicerContext
    ) -> matching_pb2.GetDepthResponse:
        if not request.symbol:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "symbol is required")
        if not 0 <= request.depth <= MAX_DEPTH:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"depth must be between 1 and {MAX_DEPTH}"
            )
        levels = request.depth or DEFAULT_DEPTH
        view = self._depth.get(request.symbol)
        response = matching_pb2.GetDepthResponse(symbol=request.symbol)
        if view is None:
            return response  # no order seen yet for this symbol: an empty book
        response.sequence = view.sequence
        for price, quantity, count in view.bids[:levels]:
            response.bids.add(price_ticks=price, quantity=quantity, order_count=count)
        for price, quantity, count in view.asks[:levels]:
            response.asks.add(price_ticks=price, quantity=quantity, order_count=count)
        return response

    async def GetTrade(
        self, request: matching_pb2.GetTradeRequest, context: grpc.aio.ServicerContext
    ) -> matching_pb2.TradeRecord:
        if not request.trade_id or len(request.trade_id) > 128:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "a trade id is required")
        raw = await self._redis.get(trade_key(request.trade_id))
        if raw is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no trade {request.trade_id}")
        return matching_pb2.TradeRecord(**orjson.loads(raw))
