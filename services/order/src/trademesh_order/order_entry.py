"""Placing and cancelling orders: validation, reservation, and the command for matching.

Each use case changes PostgreSQL in one transaction that also writes the
command to the outbox, and publishes the command only after the commit: an
order is either fully accepted (reserved, stored, command owed) or not at all.
An order its open account already covers takes one statement; the rest (a
first order, a reused client_order_id, a refusal) take the step-by-step path.
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import asyncpg
from opentelemetry import trace

from trademesh.order.v1 import order_pb2
from trademesh_common.kafka import Topics
from trademesh_common.telemetry import kafka_headers
from trademesh_order import commands, store
from trademesh_order.errors import OrderNotFound, OrderNotOpen, OrderRejected
from trademesh_order.instruments import Instrument
from trademesh_order.metrics import ORDERS_ACCEPTED, ORDERS_REJECTED
from trademesh_order.orders import NewOrder, Order, Side
from trademesh_order.outbox import OutboxPublisher, OutboxRecord, enqueue
from trademesh_order.risk import Reservation, check_cash, check_position, reservation_for
from trademesh_order.validation import validate_order, validate_user_id


@dataclass(frozen=True)
class PaperAccountTerms:
    """What a user's paper account opens with, and whether it may sell short."""

    starting_cash: Decimal
    starting_positions: Mapping[str, int] = field(default_factory=dict)
    allow_short: bool = False


@dataclass(frozen=True)
class PlacedOrder:
    order: Order
    # True when the client_order_id matched an earlier order: nothing new was placed.
    duplicate: bool


class OrderEntry:
    def __init__(
        self, pool: asyncpg.Pool, publisher: OutboxPublisher, terms: PaperAccountTerms
    ) -> None:
        self._pool = pool
        self._publisher = publisher
        self._terms = terms

    async def open_account(self, conn: asyncpg.Connection, user_id: str) -> None:
        await store.ensure_account(
            conn, user_id, self._terms.starting_cash, self._terms.starting_positions
        )

    async def place(self, request: order_pb2.PlaceOrderRequest) -> PlacedOrder:
        """Raises OrderRejected (InvalidOrder or RiskRejected) when the order is refused."""
        span = trace.get_current_span()
        span.set_attribute("trademesh.symbol", request.symbol[:32])
        try:
            placed, outbox_record = await self._accept(request)
        except OrderRejected as rejection:
            ORDERS_REJECTED.labels(rejection.category).inc()
            span.set_attribute("trademesh.reject_reason", rejection.category)
            raise
        span.set_attribute("trademesh.order_id", placed.order.order_id)
        if outbox_record is not None:
            # After the commit: if this fails, the relay delivers the command a little later.
            await self._publisher.publish([outbox_record])
            ORDERS_ACCEPTED.labels(placed.order.side.value, placed.order.type.value).inc()
        return placed

    async def _accept(
        self, request: order_pb2.PlaceOrderRequest
    ) -> tuple[PlacedOrder, OutboxRecord | None]:
        async with self._pool.acquire() as conn:
            instrument = await store.get_instrument(conn, request.symbol)
            new_order = validate_order(request, instrument)
            assert instrument is not None
            reservation = reservation_for(new_order, instrument)
            at_once = await self._place_covered(conn, new_order, instrument, reservation)
            if at_once is not None:
                return at_once
            async with conn.transaction():
                await self.open_account(conn, new_order.user_id)
                # The account lock serialises one user's placements, which makes the
                # idempotency check below and the balance check race-free.
                account = await store.lock_account(conn, new_order.user_id)
                if new_order.client_order_id is not None:
                    earlier = await store.find_by_client_order_id(
                        conn, new_order.user_id, new_order.client_order_id
                    )
                    if earlier is not None:
                        return PlacedOrder(earlier, duplicate=True), None
                if new_order.side is Side.BUY:
                    check_cash(reservation.cash, account.available_cash)
                    await store.change_account(
                        conn, new_order.user_id, Decimal(0), reservation.cash
                    )
                else:
                    position = await store.lock_position(conn, new_order.user_id, new_order.symbol)
                    check_position(
                        new_order.symbol,
                        reservation.quantity,
                        position.quantity,
                        position.reserved_quantity,
                        allow_short=self._terms.allow_short,
                    )
                    await store.change_reserved_quantity(
                        conn, new_order.user_id, new_order.symbol, reservation.quantity
                    )
                order = await store.insert_order(
                    conn,
                    uuid.uuid4().hex,
                    new_order,
                    limit_price=reservation.limit_price,
                    reserved_cash=reservation.cash,
                    reserved_quantity=reservation.quantity,
                    command_id=commands.new_command_id(),
                )
                command = commands.order_accepted(order, instrument)
                record = await enqueue(
                    conn, Topics.ORDERS, order.symbol, command.SerializeToString()
                )
        return PlacedOrder(order, duplicate=False), record

    async def _place_covered(
        self,
        conn: asyncpg.Connection,
        new_order: NewOrder,
        instrument: Instrument,
        reservation: Reservation,
    ) -> tuple[PlacedOrder, OutboxRecord] | None:
        """The common case in one round trip: an open account that covers the order.

        None sends the caller down the step-by-step path, which opens the account, finds
        an earlier order with the same client_order_id, or words the refusal.
        """
        order_id, command_id = uuid.uuid4().hex, commands.new_command_id()
        command = commands.new_order_accepted(
            order_id, command_id, new_order, reservation.limit_price, instrument
        )
        payload = command.SerializeToString()
        try:
            placed = await store.place_covered_order(
                conn,
                order_id,
                new_order,
                limit_price=reservation.limit_price,
                reserved_cash=reservation.cash,
                reserved_quantity=reservation.quantity,
                command_id=command_id,
                outbox_topic=Topics.ORDERS,
                command=payload,
                allow_short=self._terms.allow_short,
            )
        except asyncpg.UniqueViolationError:
            return None  # the client_order_id names an earlier order: the slow path finds it
        if placed is None:
            return None
        order, outbox_id = placed
        record = OutboxRecord(outbox_id, Topics.ORDERS, order.symbol, payload, kafka_headers())
        return PlacedOrder(order, duplicate=False), record

    async def cancel(self, user_id: str, order_id: str) -> Order:
        """Asks matching to cancel; the order changes when matching's CANCEL report arrives.

        Raises OrderNotFound (also for another user's order) or OrderNotOpen.
        """
        validate_user_id(user_id)
        async with self._pool.acquire() as conn, conn.transaction():
            order = await store.get_order(conn, order_id, user_id=user_id, lock=True)
            if order is None:
                # Same answer whether the id is unknown or someone else's: ids leak nothing.
                raise OrderNotFound(f"order {order_id[:64]!r} not found")
            if not order.is_open:
                raise OrderNotOpen(f"order {order_id} is already {order.status.value}")
            command = commands.cancel_requested(order)
            record = await enqueue(conn, Topics.ORDERS, order.symbol, command.SerializeToString())
        await self._publisher.publish([record])
        return order
