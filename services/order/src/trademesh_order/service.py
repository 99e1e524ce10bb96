"""The OrderService gRPC API: translates requests to use cases and errors to status codes.

Every refusal carries a reason a person can read. Unexpected exceptions are
left to the shared interceptor, which answers INTERNAL without a stack trace.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import grpc

from trademesh.order.v1 import order_pb2, order_pb2_grpc
from trademesh_order import store
from trademesh_order.errors import (
    InvalidOrder,
    InvalidRequest,
    OrderEntryError,
    OrderNotFound,
    OrderNotOpen,
    RiskRejected,
)
from trademesh_order.messages import (
    fill_message,
    instrument_message,
    order_message,
    positions_message,
)
from trademesh_order.order_entry import OrderEntry
from trademesh_order.paging import decode_page_token, encode_page_token, listing, page_size
from trademesh_order.validation import validate_user_id

# Most specific first.
_STATUS_CODES: list[tuple[type[OrderEntryError], grpc.StatusCode]] = [
    (InvalidOrder, grpc.StatusCode.INVALID_ARGUMENT),
    (InvalidRequest, grpc.StatusCode.INVALID_ARGUMENT),
    (RiskRejected, grpc.StatusCode.FAILED_PRECONDITION),
    (OrderNotOpen, grpc.StatusCode.FAILED_PRECONDITION),
    (OrderNotFound, grpc.StatusCode.NOT_FOUND),
]
FILLS_LIMIT = 500


def status_code_for(error: OrderEntryError) -> grpc.StatusCode:
    for error_class, code in _STATUS_CODES:
        if isinstance(error, error_class):
            return code
    return grpc.StatusCode.FAILED_PRECONDITION


@asynccontextmanager
async def _refusals_as_status(context: grpc.aio.ServicerContext) -> AsyncIterator[None]:
    try:
        yield
    except OrderEntryError as error:
        await context.abort(status_code_for(error), error.reason)


class OrderServicer(order_pb2_grpc.OrderServiceServicer):
    def __init__(self, pool: asyncpg.Pool, entry: OrderEntry) -> None:
        self._pool = pool
        self._entry = entry

    async def PlaceOrder(
        self, request: order_pb2.PlaceOrderRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.PlaceOrderResponse:
        async with _refusals_as_status(context):
            placed = await self._entry.place(request)
        return order_pb2.PlaceOrderResponse(
            order=order_message(placed.order), duplicate=placed.duplicate
        )

    async def CancelOrder(
        self, request: order_pb2.CancelOrderRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.CancelOrderResponse:
        async with _refusals_as_status(context):
            order = await self._entry.cancel(request.user_id, request.order_id)
        return order_pb2.CancelOrderResponse(order=order_message(order))

    async def GetOrder(
        self, request: order_pb2.GetOrderRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.Order:
        async with _refusals_as_status(context):
            user_id = validate_user_id(request.user_id)
            async with self._pool.acquire() as conn:
                order = await store.get_order(conn, request.order_id, user_id=user_id)
            if order is None:
                raise OrderNotFound(f"order {request.order_id[:64]!r} not found")
        return order_message(order)

    async def ListOrders(
        self, request: order_pb2.ListOrdersRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.ListOrdersResponse:
        async with _refusals_as_status(context):
            user_id = validate_user_id(request.user_id)
            limit = page_size(request.limit)
            orders_listing = listing(request.symbol or None, request.open_only)
            before_seq = decode_page_token(orders_listing, request.page_token)
            async with self._pool.acquire() as conn:
                # One extra row tells whether another page follows.
                rows = await store.list_orders(
                    conn,
                    user_id,
                    symbol=request.symbol or None,
                    open_only=request.open_only,
                    before_seq=before_seq,
                    limit=limit + 1,
                )
        page = rows[:limit]
        next_token = encode_page_token(orders_listing, page[-1][0]) if len(rows) > limit else ""
        return order_pb2.ListOrdersResponse(
            orders=[order_message(order) for _, order in page], next_page_token=next_token
        )

    async def ListFills(
        self, request: order_pb2.ListFillsRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.ListFillsResponse:
        """An order's fills, oldest first; without an order id, the user's latest fills."""
        async with _refusals_as_status(context):
            user_id = validate_user_id(request.user_id)
            order_id = request.order_id or None
            async with self._pool.acquire() as conn:
                if order_id is not None:
                    order = await store.get_order(conn, order_id, user_id=user_id)
                    if order is None:
                        raise OrderNotFound(f"order {order_id[:64]!r} not found")
                fills = await store.list_fills(conn, user_id, order_id=order_id, limit=FILLS_LIMIT)
        return order_pb2.ListFillsResponse(fills=[fill_message(fill) for fill in fills])

    async def GetPositions(
        self, request: order_pb2.GetPositionsRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.GetPositionsResponse:
        async with _refusals_as_status(context):
            user_id = validate_user_id(request.user_id)
            async with self._pool.acquire() as conn:
                async with conn.transaction():
                    await self._entry.open_account(conn, user_id)
                # One snapshot: cash and positions as of the same moment.
                async with conn.transaction(isolation="repeatable_read", readonly=True):
                    account = await store.get_account(conn, user_id)
                    positions = await store.list_positions(conn, user_id)
        assert account is not None
        return positions_message(account, positions)

    async def ListInstruments(
        self, request: order_pb2.ListInstrumentsRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.ListInstrumentsResponse:
        async with self._pool.acquire() as conn:
            instruments = await store.list_instruments(conn)
        return order_pb2.ListInstrumentsResponse(
            instruments=[instrument_message(instrument) for instrument in instruments]
        )
