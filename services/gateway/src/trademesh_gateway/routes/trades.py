"""Trades by id (MatchingService), e.g. the `trade_id` of one of the caller's fills."""

from fastapi import Depends, FastAPI

from trademesh.matching.v1 import matching_pb2
from trademesh_gateway.backends import Backends
from trademesh_gateway.identity import CallerDependency
from trademesh_gateway.instruments import InstrumentCache
from trademesh_gateway.openapi_docs import error_responses
from trademesh_gateway.proto_mapping import UpstreamContractError, trade_from_proto
from trademesh_gateway.routes import API_PREFIX
from trademesh_gateway.routes.params import TradeIdParam
from trademesh_gateway.schemas.market import Trade


def add_trade_routes(
    app: FastAPI, backends: Backends, instruments: InstrumentCache, caller: CallerDependency
) -> None:
    @app.get(
        f"{API_PREFIX}/trades/{{trade_id}}",
        tags=["trades"],
        # Behind identity like the rest of a user's trading data, though no answer depends on who.
        dependencies=[Depends(caller)],
        summary="One trade",
        responses=error_responses(401, 404),
    )
    async def get_trade(trade_id: TradeIdParam) -> Trade:
        reply = await backends.matching.GetTrade(
            matching_pb2.GetTradeRequest(trade_id=trade_id), timeout=backends.call_timeout
        )
        rules = await instruments.get(reply.symbol)
        if rules is None:
            raise UpstreamContractError(f"trade {trade_id} is for unlisted symbol {reply.symbol}")
        return trade_from_proto(reply, rules.tick_size)
