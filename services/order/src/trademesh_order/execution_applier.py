"""Applies matching's execution reports to orders, cash and positions, each exactly once.

A batch of reports is applied in one PostgreSQL transaction. Each report's
id is claimed in `applied_executions` before it changes anything, so a report
delivered again (a replay after a crash or a rebalance) is a no-op. The
OrderUpdate that each change owes is written to the outbox in the same
transaction and published after the commit.

The batch is applied with a fixed number of statements whatever its size:
the rows it touches are locked and read at once, the reports are worked
through in memory in their order, and each table is written once. If that
write breaks a constraint, the transaction is rolled back and the batch is
applied again report by report, each under a savepoint, so the one bad report
is set aside (dead-lettered) and the others still apply.

Lock order is order row, then account, then position, everywhere in this
service, so appliers and order entry cannot deadlock each other.
"""

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
from confluent_kafka import Message
from google.protobuf.message import DecodeError
from opentelemetry import trace

from trademesh.events.v1 import executions_pb2
from trademesh_common.kafka import Topics
from trademesh_common.metrics import trace_exemplar
from trademesh_common.telemetry import KafkaHeaders, context_from_kafka_headers, kafka_headers
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
from trademesh_order.orders import Fill, Order, Position, Side
from trademesh_order.outbox import OutboxRecord
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
        undecodable: list[tuple[Message, str]] = []
        reports: list[tuple[Message, executions_pb2.ExecutionReport]] = []
        for message in messages:
            try:
                reports.append((message, decode_report(message.value())))
            except DeadLetter as dead:
                undecodable.append((message, dead.reason))
        batch, observations = AppliedBatch(), []
        if reports:
            try:
                async with self._pool.acquire() as conn, conn.transaction():
                    batch, observations = await self._apply_reports(conn, reports)
            except (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError) as exc:
                # Rolled back whole: find the report at fault one by one.
                log.warning(
                    "batched apply breaks a constraint, applying report by report",
                    extra={"reports": len(reports), "error": repr(exc)},
                )
                batch, observations = await self._apply_one_by_one(reports)
        batch.dead_letters[:0] = undecodable
        # Only once committed: a batch that falls back to report by report would count twice.
        for observe in observations:
            observe()
        return batch

    async def _apply_one_by_one(
        self, reports: Sequence[tuple[Message, executions_pb2.ExecutionReport]]
    ) -> tuple[AppliedBatch, list[Callable[[], None]]]:
        """The same rules, a report at a time under a savepoint each: one that breaks a
        constraint is set aside alone instead of blocking the partition forever."""
        total, observations = AppliedBatch(), []
        async with self._pool.acquire() as conn, conn.transaction():
            for message, report in reports:
                try:
                    async with conn.transaction():
                        one, seen = await self._apply_reports(conn, [(message, report)])
                except (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError) as exc:
                    log.error(
                        "execution report breaks a constraint",
                        extra={"offset": message.offset(), "error": repr(exc)},
                    )
                    total.dead_letters.append((message, f"cannot be applied: {exc}"))
                    continue
                total.updates += one.updates
                total.dead_letters += one.dead_letters
                total.applied += one.applied
                total.unchanged += one.unchanged
                observations += seen
        return total, observations

    async def _apply_reports(
        self,
        conn: asyncpg.Connection,
        reports: Sequence[tuple[Message, executions_pb2.ExecutionReport]],
    ) -> tuple[AppliedBatch, list[Callable[[], None]]]:
        """Works `reports` into the rows they touch, locked once, and writes them one
        statement per table; the metrics to record once the transaction commits."""
        batch = AppliedBatch()
        work = _BatchWork(await _lock_batch_rows(conn, reports))
        for message, report in reports:
            parent = context_from_kafka_headers(message.headers())
            with _tracer.start_as_current_span(
                "apply execution report", context=parent, kind=trace.SpanKind.CONSUMER
            ) as span:
                span.set_attribute("trademesh.order_id", report.order_id)
                span.set_attribute("trademesh.symbol", report.symbol)
                span.set_attribute("trademesh.execution_id", report.execution_id)
                try:
                    changed = await self._apply_in_memory(conn, work, report)
                except DeadLetter as dead:
                    batch.dead_letters.append((message, dead.reason))
                    continue
                if changed:
                    # Captured inside the report's span: the update continues its trace.
                    work.headers[changed] = kafka_headers()
            if changed is None:
                batch.unchanged += 1
            else:
                batch.applied += 1
                work.observations.append(functools.partial(_observe_lag, report))
        batch.updates = await work.write(conn)
        return batch, work.observations

    async def _apply_in_memory(
        self, conn: asyncpg.Connection, work: "_BatchWork", report: executions_pb2.ExecutionReport
    ) -> bytes | None:
        """Works one report into `work`; returns the OrderUpdate it owes (serialised), or
        None if it changes nothing."""
        order = _addressed_order(work.orders.get(report.order_id), report)
        if not work.claim(report.execution_id, order.order_id):
            return None  # applied before, or twice in this batch: a redelivery
        transition = _transition(order, report)
        if transition is None:
            return None
        kind, status = transition
        if status is None:
            work.observations.append(functools.partial(_ignore, order, report, kind))
            return None
        fill = None
        if kind is ExecutionKind.FILL:
            instrument = await self._instrument(conn, order.symbol)
            fill, order = work.fill(order, report, status, instrument)
        elif kind in (ExecutionKind.CANCEL, ExecutionKind.REJECT):
            order = work.release(order, status, report.reason or kind.value)
        else:
            order = work.set_order(replace(order, status=status))
        payload = order_update(order, report.execution_id, fill).SerializeToString()
        work.updates.append((order.user_id, payload))
        return payload

    async def _instrument(self, conn: asyncpg.Connection, symbol: str) -> Instrument:
        instrument = self._instruments.get(symbol)
        if instrument is None:
            instrument = await store.get_instrument(conn, symbol)
            assert instrument is not None, "orders reference listed instruments"
            self._instruments[symbol] = instrument
        return instrument


def fill_of(order: Order, report: executions_pb2.ExecutionReport, instrument: Instrument) -> Fill:
    """The fill a trade report books for `order`."""
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
    return Fill(
        execution_id=report.execution_id,
        order_id=order.order_id,
        user_id=order.user_id,
        trade_id=report.trade_id,
        symbol=order.symbol,
        side=order.side,
        quantity=report.last_quantity,
        price=price,
        liquidity=_LIQUIDITY.get(report.liquidity, ""),
        created_at=from_us(report.created_at_us) if report.created_at_us > 0 else _now(),
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _observe_lag(report: executions_pb2.ExecutionReport) -> None:
    if report.created_at_us > 0:
        EXECUTION_LAG_SECONDS.observe(max(0, now_us() - report.created_at_us) / 1_000_000)


def _ignore(order: Order, report: executions_pb2.ExecutionReport, kind: ExecutionKind) -> None:
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


@dataclass
class _LockedRows:
    """What a batch reads, locked, before it works its reports through."""

    orders: dict[str, Order]
    claimed: set[str]
    positions: dict[tuple[str, str], Position]
    # The transaction's now(): what updated_at = now() would store.
    now: datetime


async def _lock_batch_rows(
    conn: asyncpg.Connection, reports: Sequence[tuple[Message, executions_pb2.ExecutionReport]]
) -> _LockedRows:
    """Locks the batch's orders, then their accounts, then positions (the service's lock
    order, each set sorted), and claims every execution id, in four statements."""
    order_ids = sorted({report.order_id for _, report in reports})
    orders, now = await store.lock_orders(conn, order_ids)
    # Only reports that will be applied are claimed: one dead-lettered for its order (below,
    # in _apply_in_memory) stays unclaimed, as on the one-by-one path.
    known = [
        (r.execution_id, r.order_id)
        for _, r in reports
        if r.order_id in orders and _belongs(r, orders[r.order_id])
    ]
    claimed = await store.claim_executions(conn, known)
    owners = {orders[order_id].user_id for _, order_id in known}
    await store.lock_accounts(conn, sorted(owners))
    holdings = sorted(
        {
            (orders[r.order_id].user_id, orders[r.order_id].symbol)
            for _, r in reports
            if r.order_id in orders
            and (
                r.type == executions_pb2.EXECUTION_TYPE_FILL or orders[r.order_id].reserved_quantity
            )
        }
    )
    positions = await store.lock_positions(conn, holdings)
    return _LockedRows(orders, claimed, positions, now)


def _belongs(report: executions_pb2.ExecutionReport, order: Order) -> bool:
    return (not report.user_id or report.user_id == order.user_id) and (
        not report.symbol or report.symbol == order.symbol
    )


def _addressed_order(order: Order | None, report: executions_pb2.ExecutionReport) -> Order:
    """The order a report is about; DeadLetter when there is none, or not the one it names."""
    if order is None:
        raise DeadLetter(f"unknown order {report.order_id}")
    if report.user_id and report.user_id != order.user_id:
        raise DeadLetter(f"order {order.order_id} belongs to another user")
    if report.symbol and report.symbol != order.symbol:
        raise DeadLetter(f"order {order.order_id} is for {order.symbol}, not {report.symbol}")
    return order


def _transition(
    order: Order, report: executions_pb2.ExecutionReport
) -> tuple[ExecutionKind, OrderStatus | None] | None:
    """The report's kind and the status it moves the order to: None in place of the status
    when the order cannot take the report (it is ignored), and None in all when matching
    refused a cancel request (the order itself stands)."""
    kind = _KINDS[report.type]
    if kind is ExecutionKind.REJECT and report.command_id not in ("", order.command_id):
        # e.g. matching does not know the order yet
        log.info(
            "cancel request refused by matching",
            extra={"order_id": order.order_id, "reason": report.reason},
        )
        return None
    fill_quantity = report.last_quantity if kind is ExecutionKind.FILL else 0
    status = next_status(order.status, kind, order.filled_quantity + fill_quantity, order.quantity)
    malformed_fill = kind is ExecutionKind.FILL and (
        report.last_quantity <= 0 or report.last_price_ticks <= 0
    )
    return kind, None if malformed_fill else status


class _BatchWork:
    """A batch's changes, accumulated in report order, then written one statement per table.

    The only implementation of the rules: the report-by-report fallback is this with a
    batch of one.
    """

    def __init__(self, locked: _LockedRows) -> None:
        self.orders = locked.orders
        self._claimed = locked.claimed
        self._positions = locked.positions
        self._now = locked.now
        self._changed_orders: dict[str, Order] = {}
        # user -> [cash change, reserved cash change]
        self._accounts: dict[str, list[Decimal]] = {}
        self._changed_positions: set[tuple[str, str]] = set()
        self._fills: list[Fill] = []
        self._last_prices: dict[str, tuple[Decimal, datetime]] = {}
        # (key, OrderUpdate) in report order, and each update's trace headers.
        self.updates: list[tuple[str, bytes]] = []
        self.headers: dict[bytes, KafkaHeaders] = {}
        # Metrics and warnings, emitted once the batch is written.
        self.observations: list[Callable[[], None]] = []

    def claim(self, execution_id: str, order_id: str) -> bool:
        """True the first time a claimed report comes by; a second copy in the batch, or
        one applied by an earlier batch, is not claimed."""
        if execution_id not in self._claimed:
            return False
        self._claimed.discard(execution_id)
        return True

    def set_order(self, order: Order) -> Order:
        order = replace(order, updated_at=self._now)
        self.orders[order.order_id] = order
        self._changed_orders[order.order_id] = order
        return order

    def _change_account(self, user_id: str, cash: Decimal, reserved: Decimal) -> None:
        change = self._accounts.setdefault(user_id, [Decimal(0), Decimal(0)])
        change[0] += cash
        change[1] += reserved

    def _change_position(self, user_id: str, symbol: str, **changes: Any) -> None:
        key = (user_id, symbol)
        self._positions[key] = replace(self._positions[key], **changes)
        self._changed_positions.add(key)

    def fill(
        self,
        order: Order,
        report: executions_pb2.ExecutionReport,
        status: OrderStatus,
        instrument: Instrument,
    ) -> tuple[Fill, Order]:
        fill = fill_of(order, report, instrument)
        quantity, price, traded_at = fill.quantity, fill.price, fill.created_at
        self._fills.append(fill)
        effect = fill_effect(order.side, quantity, price, order.limit_price)
        reserved_cash = order.reserved_cash - effect.reserved_cash_release
        reserved_quantity = order.reserved_quantity - effect.reserved_quantity_release
        leftover_cash, leftover_quantity = Decimal(0), 0
        if status is OrderStatus.FILLED:
            leftover_cash, leftover_quantity = reserved_cash, reserved_quantity
            reserved_cash, reserved_quantity = Decimal(0), 0
        self._change_account(
            order.user_id, effect.cash_change, -(effect.reserved_cash_release + leftover_cash)
        )
        position = self._positions[(order.user_id, order.symbol)]
        holding = holding_after_fill(
            Holding(position.quantity, position.average_price), order.side, quantity, price
        )
        self._change_position(
            order.user_id,
            order.symbol,
            quantity=holding.quantity,
            reserved_quantity=position.reserved_quantity
            - effect.reserved_quantity_release
            - leftover_quantity,
            average_price=holding.average_price,
        )
        self._last_prices[order.symbol] = (price, traded_at)
        if report.liquidity == executions_pb2.LIQUIDITY_TAKER:
            # Measured now, recorded after the write (with the exemplar of this trace).
            to_fill = max(0.0, (_now() - order.created_at).total_seconds())
            self.observations.append(
                functools.partial(ORDER_TO_FILL_SECONDS.observe, to_fill, exemplar=trace_exemplar())
            )
        filled_quantity = order.filled_quantity + quantity
        filled_notional = order.filled_notional + price * quantity
        order = self.set_order(
            replace(
                order,
                status=status,
                filled_quantity=filled_quantity,
                filled_notional=filled_notional,
                average_fill_price=average_fill_price(filled_notional, filled_quantity, price),
                reserved_cash=reserved_cash,
                reserved_quantity=reserved_quantity,
            )
        )
        self.observations.append(FILLS_APPLIED.labels(order.side.value).inc)
        return fill, order

    def release(self, order: Order, status: OrderStatus, reason: str) -> Order:
        if order.reserved_cash:
            self._change_account(order.user_id, Decimal(0), -order.reserved_cash)
        if order.reserved_quantity:
            position = self._positions[(order.user_id, order.symbol)]
            self._change_position(
                order.user_id,
                order.symbol,
                reserved_quantity=position.reserved_quantity - order.reserved_quantity,
            )
        return self.set_order(
            replace(
                order, status=status, reserved_cash=Decimal(0), reserved_quantity=0, reason=reason
            )
        )

    async def write(self, conn: asyncpg.Connection) -> list[OutboxRecord]:
        """One statement per table touched; returns the outbox records, in report order."""
        await store.insert_fills(conn, self._fills)
        await store.change_accounts(
            conn, [(user, cash, reserved) for user, (cash, reserved) in self._accounts.items()]
        )
        await store.update_positions(
            conn,
            [
                (user, symbol, self._positions[(user, symbol)])
                for user, symbol in sorted(self._changed_positions)
            ],
        )
        await store.record_last_prices(
            conn, [(symbol, price, at) for symbol, (price, at) in self._last_prices.items()]
        )
        await store.update_orders_after_reports(conn, list(self._changed_orders.values()))
        if not self.updates:
            return []
        ids = await store.enqueue_many(conn, Topics.ORDER_UPDATES, self.updates)
        return [
            OutboxRecord(record_id, Topics.ORDER_UPDATES, key, payload, self.headers[payload])
            for record_id, (key, payload) in zip(ids, self.updates, strict=True)
        ]
