"""The order state machine, driven by matching's execution reports.

    pending_new --ACK--> new --FILL--> partially_filled --FILL--> filled
         |                |                  |
         +----------------+------------------+--CANCEL--> cancelled
         +--REJECT--> rejected

A FILL may also arrive before the ACK is seen (matching acknowledges and
trades in one step). Anything else (a late ACK, a report for a finished
order) is illegal: the caller ignores it and logs it.
"""

from enum import StrEnum


class OrderStatus(StrEnum):
    # Accepted by order entry, not yet acknowledged by matching.
    PENDING_NEW = "pending_new"
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


class ExecutionKind(StrEnum):
    ACK = "ack"
    FILL = "fill"
    CANCEL = "cancel"
    REJECT = "reject"


OPEN_STATUSES = frozenset({OrderStatus.PENDING_NEW, OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED})
TERMINAL_STATUSES = frozenset({OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED})

_ALLOWED: dict[OrderStatus, frozenset[ExecutionKind]] = {
    OrderStatus.PENDING_NEW: frozenset(ExecutionKind),
    OrderStatus.NEW: frozenset({ExecutionKind.FILL, ExecutionKind.CANCEL}),
    OrderStatus.PARTIALLY_FILLED: frozenset({ExecutionKind.FILL, ExecutionKind.CANCEL}),
    OrderStatus.FILLED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.REJECTED: frozenset(),
}


def next_status(
    current: OrderStatus, kind: ExecutionKind, filled_after: int, quantity: int
) -> OrderStatus | None:
    """The status after a report, or None when the report is illegal in `current`.

    `filled_after` is the filled quantity including this report's fill, if any.
    """
    if kind not in _ALLOWED[current]:
        return None
    match kind:
        case ExecutionKind.ACK:
            return OrderStatus.NEW
        case ExecutionKind.FILL:
            if filled_after <= 0 or filled_after > quantity:
                return None
            return OrderStatus.FILLED if filled_after == quantity else OrderStatus.PARTIALLY_FILLED
        case ExecutionKind.CANCEL:
            return OrderStatus.CANCELLED
        case ExecutionKind.REJECT:
            return OrderStatus.REJECTED
