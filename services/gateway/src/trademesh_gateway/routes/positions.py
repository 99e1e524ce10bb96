"""The caller's cash and positions (OrderService)."""

from typing import Annotated

from fastapi import Depends, FastAPI

from trademesh.order.v1 import order_pb2
from trademesh_gateway.backends import Backends
from trademesh_gateway.identity import CallerDependency
from trademesh_gateway.openapi_docs import error_responses
from trademesh_gateway.proto_mapping import positions_from_proto
from trademesh_gateway.routes import API_PREFIX
from trademesh_gateway.schemas.orders import Positions


def add_position_routes(app: FastAPI, backends: Backends, caller: CallerDependency) -> None:
    CallerId = Annotated[str, Depends(caller)]

    @app.get(
        f"{API_PREFIX}/positions",
        tags=["positions"],
        summary="The caller's cash and positions, with amounts held for open orders",
        responses=error_responses(401),
    )
    async def get_positions(user_id: CallerId) -> Positions:
        reply = await backends.order.GetPositions(
            order_pb2.GetPositionsRequest(user_id=user_id), timeout=backends.call_timeout
        )
        return positions_from_proto(reply)
