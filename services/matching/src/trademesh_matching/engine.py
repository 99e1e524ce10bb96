"""Turns order commands into execution reports and market data, one partition at a time.

A `PartitionEngine` holds the books of the symbols on one partition of the
`orders` topic. Applying a command is pure and deterministic: ids derive from
the command's offset, so replaying the same commands after a crash rebuilds
the same books and produces the same ids.
"""

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from trademesh.events.v1 import executions_pb2, marketdata_pb2, orders_pb2
from trademesh_matching import book as bk
from trademesh_matching.book import OrderBook

ER = executions_pb2.ExecutionReport


@dataclass(slots=True)
class Outputs:
    """What one command produced, ready to publish."""

    executions: list[executions_pb2.ExecutionReport] = field(default_factory=list)
    marketdata: list[marketdata_pb2.MarketDataEvent] = field(default_factory=list)
    trades: list[marketdata_pb2.Trade] = field(default_factory=list)


_MAKER_SIDE = {bk.BUY: bk.SELL, bk.SELL: bk.BUY}


class PartitionEngine:
    def __init__(self, partition: int, dedupe_window: int = 20_000) -> None:
        self.partition = partition
        self.books: dict[str, OrderBook] = {}
        # Next offset to apply; commands below it are already in the books.
        self.next_offset = 0
        self._recent_order_ids: OrderedDict[str, None] = OrderedDict()
        self._dedupe_window = dedupe_window

    def book(self, symbol: str) -> OrderBook:
        found = self.books.get(symbol)
        if found is None:
            found = self.books[symbol] = OrderBook(symbol)
        return found

    def apply(self, command: orders_pb2.OrderCommand, offset: int) -> Outputs:
        out = Outputs()
        kind = command.WhichOneof("command")
        book = self.book(command.symbol)
        if kind == "accepted":
            order = command.accepted
            if order.order_id in self._recent_order_ids or book.order(order.order_id):
                # A redelivered command: its reports went out the first time.
                self.next_offset = offset + 1
                return out
            self._remember(order.order_id)
            book.place(
                order.order_id,
                order.user_id,
                order.side,
                order.type,
                order.time_in_force,
                order.quantity,
                order.price_ticks,
            )
        elif kind == "cancel":
            book.cancel(command.cancel.order_id)
        _Reporter(self.partition, offset, command, out).report(book.events)
        book.events.clear()
        self.next_offset = offset + 1
        return out

    def _remember(self, order_id: str) -> None:
        recent = self._recent_order_ids
        recent[order_id] = None
        if len(recent) > self._dedupe_window:
            recent.popitem(last=False)

    def to_snapshot(self) -> dict[str, Any]:
        return {
            "partition": self.partition,
            "next_offset": self.next_offset,
            "books": {symbol: book.to_snapshot() for symbol, book in self.books.items()},
            "recent_order_ids": list(self._recent_order_ids),
        }

    @classmethod
    def from_snapshot(cls, data: dict[str, Any], dedupe_window: int = 20_000) -> "PartitionEngine":
        engine = cls(data["partition"], dedupe_window)
        engine.next_offset = data["next_offset"]
        engine.books = {
            symbol: OrderBook.from_snapshot(symbol, book) for symbol, book in data["books"].items()
        }
        engine._recent_order_ids = OrderedDict.fromkeys(data["recent_order_ids"])
        return engine


class _Reporter:
    """Turns one command's book records into execution reports, trades and book deltas.

    Ids are `<kind>-<partition>-<offset>-<n>`: unique, and the same on a replay.
    """

    def __init__(
        self, partition: int, offset: int, command: orders_pb2.OrderCommand, out: Outputs
    ) -> None:
        self._prefix = f"{partition}-{offset}-"
        self._sequence = 0
        self._command = command
        self._out = out
        self._now_us = time.time_ns() // 1000

    def _next_id(self, kind: str) -> str:
        self._sequence += 1
        return f"{kind}-{self._prefix}{self._sequence}"

    def _execution(self, **fields: Any) -> None:
        self._out.executions.append(
            ER(
                execution_id=self._next_id("e"),
                symbol=self._command.symbol,
                created_at_us=self._now_us,
                command_id=self._command.command_id,
                **fields,
            )
        )

    def report(self, records: list[bk.Record]) -> None:
        for event in map(bk.decode, records):
            if isinstance(event, bk.Accepted):
                self._execution(
                    order_id=event.order_id,
                    user_id=event.user_id,
                    side=event.side,
                    type=executions_pb2.EXECUTION_TYPE_ACK,
                    leaves_quantity=event.quantity,
                )
            elif isinstance(event, bk.Fill):
                self._fill(event)
            elif isinstance(event, bk.Cancelled):
                self._execution(
                    order_id=event.order_id,
                    user_id=event.user_id,
                    side=event.side,
                    type=executions_pb2.EXECUTION_TYPE_CANCEL,
                    cumulative_quantity=event.filled_quantity,
                    reason=event.reason,
                )
            elif isinstance(event, bk.Rejected):
                self._execution(
                    order_id=event.order_id,
                    user_id=event.user_id,
                    side=event.side,
                    type=executions_pb2.EXECUTION_TYPE_REJECT,
                    reason=event.reason,
                )
            elif isinstance(event, bk.CancelRejected):
                # The order is done already (or never reached us); tell its owner.
                cancel = self._command.cancel
                self._execution(
                    order_id=cancel.order_id,
                    user_id=cancel.user_id,
                    type=executions_pb2.EXECUTION_TYPE_REJECT,
                    reason=f"cancel_rejected:{event.reason}",
                )
            elif isinstance(event, bk.LevelChanged):
                self._out.marketdata.append(
                    marketdata_pb2.MarketDataEvent(
                        symbol=self._command.symbol,
                        book_delta=marketdata_pb2.BookDelta(
                            symbol=self._command.symbol,
                            side=event.side,
                            price_ticks=event.price,
                            quantity=event.quantity,
                            created_at_us=self._now_us,
                        ),
                    )
                )

    def _fill(self, fill: bk.Fill) -> None:
        trade = marketdata_pb2.Trade(
            trade_id=self._next_id("t"),
            symbol=self._command.symbol,
            price_ticks=fill.price,
            quantity=fill.quantity,
            aggressor_side=fill.aggressor_side,
            maker_order_id=fill.maker_order_id,
            taker_order_id=fill.taker_order_id,
            created_at_us=self._now_us,
        )
        self._out.trades.append(trade)
        self._out.marketdata.append(
            marketdata_pb2.MarketDataEvent(symbol=self._command.symbol, trade=trade)
        )
        for order_id, user_id, side, leaves, cumulative, liquidity in (
            (
                fill.maker_order_id,
                fill.maker_user_id,
                _MAKER_SIDE[fill.aggressor_side],
                fill.maker_leaves,
                fill.maker_cumulative,
                executions_pb2.LIQUIDITY_MAKER,
            ),
            (
                fill.taker_order_id,
                fill.taker_user_id,
                fill.aggressor_side,
                fill.taker_leaves,
                fill.taker_cumulative,
                executions_pb2.LIQUIDITY_TAKER,
            ),
        ):
            self._execution(
                order_id=order_id,
                user_id=user_id,
                side=side,
                type=executions_pb2.EXECUTION_TYPE_FILL,
                last_quantity=fill.quantity,
                last_price_ticks=fill.price,
                leaves_quantity=leaves,
                cumulative_quantity=cumulative,
                trade_id=trade.trade_id,
                liquidity=liquidity,
            )
