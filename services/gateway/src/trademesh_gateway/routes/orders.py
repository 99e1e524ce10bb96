"""Order entry and the caller's orders and fills (OrderService)."""

from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, FastAPI, Query, Response

from trademesh.order.v1 import order_pb2
from trademesh_gateway.backends import Backends
from trademesh_gateway.identity import CallerDependency
from trademesh_gateway.openapi_docs import error_responses
from trademesh_gateway.proto_mapping import (
    fill_from_proto,
    order_from_proto,
    order_page_from_proto,
)
from trademesh_gateway.routes import API_PREFIX
from trademesh_gateway.routes.params import OrderIdParam, PageTokenParam, SymbolFilter
from trademesh_gateway.schemas.orders import FillList, Order, OrderPage, PlaceOrderRequest

ORDERS_PATH = f"{API_PREFIX}/orders"


def add_order_routes(app: FastAPI, backends: Backends, caller: CallerDependency) -> None:
    CallerId = Annotated[str, Depends(caller)]

    @app.post(
        ORDERS_PATH,
        tags=["orders"],
        status_code=202,
        summary="Place an order",
        description="Accepted for matching (202). Resending a `client_order_id` already used "
        "returns the original order with 200 and places nothing.",
        responses={
            200: {"model": Order, "description": "Duplicate `client_order_id`: the original."},
            **error_responses(401, 404, 409, 413, 429),
        },
    )
    async def place_order(body: PlaceOrderRequest, user_id: CallerId, response: Response) -> Order:
        reply = await backends.order.PlaceOrder(
            order_pb2.PlaceOrderRequest(
                user_id=user_id,
                symbol=body.symbol,
                side=body.side,
                type=body.type,
                time_in_force=body.time_in_force,
                quantity=body.quantity,
                price=body.price or "",
                client_order_id=body.client_order_id or "",
            ),
            timeout=backends.call_timeout,
        )
        order = order_from_proto(reply.order)
        if reply.duplicate:
            response.status_code = 200
        response.headers["Location"] = f"{ORDERS_PATH}/{quote(order.order_id)}"
        return order

    @app.get(
        ORDERS_PATH,
        tags=["orders"],
        summary="List the caller's orders, newest first",
        responses=error_responses(401),
    )
    async def list_orders(
        user_id: CallerId,
        symbol: SymbolFilter = None,
        open_only: Annotated[bool, Query(description="Only orders still working.")] = False,
        limit: Annotated[int, Query(ge=1, le=500, description="Page size.")] = 100,
        page_token: PageTokenParam = None,
    ) -> OrderPage:
        reply = await backends.order.ListOrders(
            order_pb2.ListOrdersRequest(
                user_id=user_id,
                symbol=symbol or "",
                open_only=open_only,
                limit=limit,
                page_token=page_token or "",
            ),
            timeout=backends.call_timeout,
        )
        return order_page_from_proto(reply)

    @app.get(
        ORDERS_PATH + "/{order_id}",
        tags=["orders"],
        summary="One of the caller's orders",
        responses=error_responses(401, 404),
    )
    async def get_order(order_id: OrderIdParam, user_id: CallerId) -> Order:
        reply = await backends.order.GetOrder(
            order_pb2.GetOrderRequest(user_id=user_id, order_id=order_id),
            timeout=backends.call_timeout,
        )
        return order_from_proto(reply)

    @app.delete(
        ORDERS_PATH + "/{order_id}",
        tags=["orders"],
        status_code=202,
        summary="Cancel an order",
        description="Accepted (202): the order is final once its status says `cancelled`.",
        responses=error_responses(401, 404, 409),
    )
    async def cancel_order(order_id: OrderIdParam, user_id: CallerId) -> Order:
        reply = await backends.order.CancelOrder(
            order_pb2.CancelOrderRequest(user_id=user_id, order_id=order_id),
            timeout=backends.call_timeout,
        )
        return order_from_proto(reply.order)

    @app.get(
        ORDERS_PATH + "/{order_id}/fills",
        tags=["orders"],
        summary="Fills of one of the caller's orders, oldest first",
        responses=error_responses(401, 404),
    )
    async def list_fills(order_id: OrderIdParam, user_id: CallerId) -> FillList:
        reply = await backends.order.ListFills(
            order_pb2.ListFillsRequest(user_id=user_id, order_id=order_id),
            timeout=backends.call_timeout,
        )
        return FillList(fills=[fill_from_proto(fill) for fill in reply.fills])
