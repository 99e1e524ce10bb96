"""Applies matching's execution reports to orders, cash and positions, each exactly once.

A batch of reports is applied in one PostgreSQL transaction. Each report's
id is claimed in `applied_executions` before it changes anything, so a report
delivered again (a replay after a crash or a rebalance) is a no-op. The
OrderUpdate that each change owes is written to the outbox in the same
transaction and published after the commit.

Lock order is order row, then account, then position, everywhere in this
service, so appliers and order entry cannot deadlock each other.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import asyncpg
from confluent_kafka import Message
from google.protobuf.message import DecodeError
from opentelemetry import trace

from trademesh.events.v1 import executions_pb2
from trademesh_common.kafka import Topics
from trademesh_common.metrics import trace_exemplar
from trademesh_common.telemetry import context_from_kafka_headers
from trademesh_order import store
from trademesh_order.instruments import Instrument
from trademesh_order.ledger import Holding, average_fill_price, fill_effect, holding_after_fill
from trademesh_order.messages import order_update
from trademesh_order.metrics import (
    EXECUTION_LAG_SECONDS,
    EXECUTIONS_IGNORED,
    FILLS_APPLIED,
    ORDER_TO_FILL_SECONDS,
)
from trademesh_order.orders import Fill, Order, Side
from trademesh_order.outbox import OutboxRecord, enqueue
from trademesh_order.states import ExecutionKind, OrderStatus, next_status
from trademesh_order.timestamps import from_us, now_us

log = logging.getLogger(__name__)
_tracer = trace.get_tracer("trademesh.order.executions")

_KINDS = {
    executions_pb2.EXECUTION_TYPE_ACK: ExecutionKind.ACK,
    executions_pb2.EXECUTION_TYPE_FILL: ExecutionKind.FILL,
    executions_pb2.EXECUTION_TYPE_CANCEL: ExecutionKind.CANCEL,
    executions_pb2.EXECUTION_TYPE_REJECT: ExecutionKind.REJECT,
}
_LIQUIDITY = {
    executions_pb2.LIQUIDITY_MAKER: "maker",
    executions_pb2.LIQUIDITY_TAKER: "taker",
}


class DeadLetter(Exception):
    """The record cannot be applied, ever: it goes to the dead-letter topic."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class AppliedBatch:
    # OrderUpdates committed with the batch, to publish after the commit.
    updates: list[OutboxRecord] = field(default_factory=list)
    dead_letters: list[tuple[Message, str]] = field(default_factory=list)
    applied: int = 0
    # Redeliveries, refused cancels and illegal reports: claimed, nothing changed.
    unchanged: int = 0


def decode_report(payload: bytes | None) -> executions_pb2.ExecutionReport:
    if payload is None:
        raise DeadLetter("record has no value")
    try:
        report = executions_pb2.ExecutionReport.FromString(payload)
    except DecodeError as exc:
        raise DeadLetter(f"not an ExecutionReport: {exc}") from None
    if not report.execution_id:
        raise DeadLetter("execution_id is missing")
    if not report.order_id:
        raise DeadLetter("order_id is missing")
    if report.type not in _KINDS:
        raise DeadLetter(f"unknown execution type {report.type}")
    return report


class ExecutionApplier:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        # Tick and lot sizes never change while the service runs; the last price is not used.
        self._instruments: dict[str, Instrument] = {}

    async def apply_batch(self, messages: Sequence[Message]) -> AppliedBatch:
        """Applies what can be applied and sets the rest aside as dead letters.

        Raises only for trouble worth retrying (the database went away): nothing is
        committed then, and the caller applies the same batch again.
        """
        batch = AppliedBatch()
        async with self._pool.acquire() as conn, conn.transaction():
            for message in messages:
                parent = context_from_kafka_headers(message.headers())
                with _tracer.start_as_current_span(
                    "apply execution report", context=parent, kind=trace.SpanKind.CONSUMER
                ) as span:
                    try:
                        report = decode_report(message.value())
                        span.set_attribute("trademesh.order_id", report.order_id)
                        span.set_attribute("trademesh.symbol", report.symbol)
                        span.set_attribute("trademesh.execution_id", report.execution_id)
                        # A savepoint per report: one that breaks a constraint is set aside
                        # alone instead of blocking the partition forever.
                        async with conn.transaction():
                            update = await self._apply(conn, report)
                    except DeadLetter as dead:
                        batch.dead_letters.append((message, dead.reason))
                        continue
                    except (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError) as exc:
                        log.error(
                            "execution report breaks a constraint",
                            extra={"offset": message.offset(), "error": repr(exc)},
                        )
                        batch.dead_letters.append((message, f"cannot be applied: {exc}"))
                        continue
                if update is None:
                    batch.unchanged += 1
                else:
                    batch.applied += 1
                    batch.updates.append(update)
                    if report.created_at_us > 0:
                        EXECUTION_LAG_SECONDS.observe(
                            max(0, now_us() - report.created_at_us) / 1_000_000
                        )
        return batch

    async def _instrument(self, conn: asyncpg.Connection, symbol: str) -> Instrument:
        instrument = self._instruments.get(symbol)
        if instrument is None:
            instrument = await store.get_instrument(conn, symbol)
            assert instrument is not None, "orders reference listed instruments"
            self._instruments[symbol] = instrument
        return instrument

    async def _apply(
        self, conn: asyncpg.Connection, report: executions_pb2.ExecutionReport
    ) -> OutboxRecord | None:
        """Applies one report; returns the OrderUpdate it owes, or None if it changed nothing."""
        order = await store.get_order(conn, report.order_id, lock=True)
        if order is None:
            raise DeadLetter(f"unknown order {report.order_id}")
        if report.user_id and report.user_id != order.user_id:
            raise DeadLetter(f"order {order.order_id} belongs to another user")
        if report.symbol and report.symbol != order.symbol:
            raise DeadLetter(f"order {order.order_id} is for {order.symbol}, not {report.symbol}")
        if not await store.claim_execution(conn, report.execution_id, order.order_id):
            return None  # applied before: a redelivery
        kind = _KINDS[report.type]
        if kind is ExecutionKind.REJECT and report.command_id not in ("", order.command_id):
            # Matching refused a cancel request (e.g. it does not know the order yet); the
            # order itself stands.
            log.info(
                "cancel request refused by matching",
                extra={"order_id": order.order_id, "reason": report.reason},
            )
            return None
        fill_quantity = report.last_quantity if kind is ExecutionKind.FILL else 0
        status = next_status(
            order.status, kind, order.filled_quantity + fill_quantity, order.quantity
        )
        malformed_fill = kind is ExecutionKind.FILL and (
            report.last_quantity <= 0 or report.last_price_ticks <= 0
        )
        if status is None or malformed_fill:
            EXECUTIONS_IGNORED.labels(kind.value).inc()
            log.warning(
                "illegal execution report ignored",
                extra={
                    "order_id": order.order_id,
                    "execution_id": report.execution_id,
                    "status": order.status.value,
                    "report_type": kind.value,
                    "last_quantity": report.last_quantity,
                },
            )
            return None
        fill = None
        if kind is ExecutionKind.FILL:
            fill, order = await self._apply_fill(conn, order, report, status)
        elif kind in (ExecutionKind.CANCEL, ExecutionKind.REJECT):
            order = await self._release(conn, order, status, report.reason or kind.value)
        else:
            order = await _set_status(conn, order, status)
        update = order_update(order, report.execution_id, fill)
        return await enqueue(conn, Topics.ORDER_UPDATES, order.user_id, update.SerializeToString())

    async def _apply_fill(
        self,
        conn: asyncpg.Connection,
        order: Order,
        report: executions_pb2.ExecutionReport,
        status: OrderStatus,
    ) -> tuple[Fill, Order]:
        instrument = await self._instrument(conn, order.symbol)
        quantity = report.last_quantity
        price = instrument.from_ticks(report.last_price_ticks)
        if (order.side is Side.BUY and price > order.limit_price) or (
            order.side is Side.SELL and price < order.limit_price
        ):
            # The trade happened and is booked, but the reservation did not cover it: a
            # matching bug worth an alert, not a reason to lose the fill.
            log.error(
                "fill beyond the order's limit price",
                extra={"order_id": order.order_id, "price": str(price)},
            )
        traded_at = from_us(report.created_at_us) if report.created_at_us > 0 else _now()
        fill = Fill(
            execution_id=report.execution_id,
            order_id=order.order_id,
            user_id=order.user_id,
            trade_id=report.trade_id,
            symbol=order.symbol,
            side=order.side,
            quantity=quantity,
            price=price,
            liquidity=_LIQUIDITY.get(report.liquidity, ""),
            created_at=traded_at,
        )
        await store.insert_fill(conn, fill)
        effect = fill_effect(order.side, quantity, price, order.limit_price)
        reserved_cash = order.reserved_cash - effect.reserved_cash_release
        reserved_quantity = order.reserved_quantity - effect.reserved_quantity_release
        leftover_cash, leftover_quantity = Decimal(0), 0
        if status is OrderStatus.FILLED:
            # Nothing is left to trade: whatever the order still holds goes back.
            leftover_cash, leftover_quantity = reserved_cash, reserved_quantity
            reserved_cash, reserved_quantity = Decimal(0), 0
        await store.change_account(
            conn,
            order.user_id,
            effect.cash_change,
            -(effect.reserved_cash_release + leftover_cash),
        )
        position = await store.lock_position(conn, order.user_id, order.symbol)
        holding = holding_after_fill(
            Holding(position.quantity, position.average_price), order.side, quantity, price
        )
        await store.update_position(
            conn,
            order.user_id,
            order.symbol,
            quantity=holding.quantity,
            reserved_quantity=position.reserved_quantity
            - effect.reserved_quantity_release
            - leftover_quantity,
            average_price=holding.average_price,
        )
        await store.record_last_price(conn, order.symbol, price, traded_at)
        if report.liquidity == executions_pb2.LIQUIDITY_TAKER:
            # A resting (maker) order waits for the market, not for us: only takers count.
            ORDER_TO_FILL_SECONDS.observe(
                max(0.0, (_now() - order.created_at).total_seconds()), exemplar=trace_exemplar()
            )
        filled_quantity = order.filled_quantity + quantity
        filled_notional = order.filled_notional + price * quantity
        order = await store.update_order_after_report(
            conn,
            order.order_id,
            status=status,
            filled_quantity=filled_quantity,
            filled_notional=filled_notional,
            average_fill_price=average_fill_price(filled_notional, filled_quantity, price),
            reserved_cash=reserved_cash,
            reserved_quantity=reserved_quantity,
            reason=order.reason,
        )
        FILLS_APPLIED.labels(order.side.value).inc()
        return fill, order

    async def _release(
        self, conn: asyncpg.Connection, order: Order, status: OrderStatus, reason: str
    ) -> Order:
        """The order is off the book: what it still holds goes back to the account."""
        if order.reserved_cash:
            await store.change_account(conn, order.user_id, Decimal(0), -order.reserved_cash)
        if order.reserved_quantity:
            await store.change_reserved_quantity(
                conn, order.user_id, order.symbol, -order.reserved_quantity
            )
        return await store.update_order_after_report(
            conn,
            order.order_id,
            status=status,
            filled_quantity=order.filled_quantity,
            filled_notional=order.filled_notional,
            average_fill_price=order.average_fill_price,
            reserved_cash=Decimal(0),
            reserved_quantity=0,
            reason=reason,
        )


async def _set_status(conn: asyncpg.Connection, order: Order, status: OrderStatus) -> Order:
    return await store.update_order_after_report(
        conn,
        order.order_id,
        status=status,
        filled_quantity=order.filled_quantity,
        filled_notional=order.filled_notional,
        average_fill_price=order.average_fill_price,
        reserved_cash=order.reserved_cash,
        reserved_quantity=order.reserved_quantity,
        reason=order.reason,
    )


def _now() -> datetime:
    return datetime.now(UTC)
