import pytest

from trademesh_order.states import (
    OPEN_STATUSES,
    TERMINAL_STATUSES,
    ExecutionKind,
    OrderStatus,
    next_status,
)

ACK, FILL, CANCEL, REJECT = (
    ExecutionKind.ACK,
    ExecutionKind.FILL,
    ExecutionKind.CANCEL,
    ExecutionKind.REJECT,
)
PENDING, NEW, PARTIAL, FILLED, CANCELLED, REJECTED = (
    OrderStatus.PENDING_NEW,
    OrderStatus.NEW,
    OrderStatus.PARTIALLY_FILLED,
    OrderStatus.FILLED,
    OrderStatus.CANCELLED,
    OrderStatus.REJECTED,
)


@pytest.mark.parametrize(
    ("current", "kind", "filled_after", "expected"),
    [
        (PENDING, ACK, 0, NEW),
        (PENDING, FILL, 4, PARTIAL),
        (PENDING, FILL, 10, FILLED),
        (PENDING, CANCEL, 0, CANCELLED),
        (PENDING, REJECT, 0, REJECTED),
        (NEW, FILL, 1, PARTIAL),
        (NEW, FILL, 10, FILLED),
        (NEW, CANCEL, 0, CANCELLED),
        (PARTIAL, FILL, 9, PARTIAL),
        (PARTIAL, FILL, 10, FILLED),
        (PARTIAL, CANCEL, 5, CANCELLED),
    ],
)
def test_legal_transitions(current, kind, filled_after, expected):
    assert next_status(current, kind, filled_after, quantity=10) is expected


@pytest.mark.parametrize(
    ("current", "kind"),
    [
        (NEW, ACK),
        (NEW, REJECT),
        (PARTIAL, ACK),
        (PARTIAL, REJECT),
        *((done, kind) for done in TERMINAL_STATUSES for kind in ExecutionKind),
    ],
)
def test_illegal_transitions_are_refused(current, kind):
    assert next_status(current, kind, 5, quantity=10) is None


@pytest.mark.parametrize("filled_after", [11, 0, -1])
def test_a_fill_beyond_the_order_quantity_or_of_nothing_is_illegal(filled_after):
    assert next_status(NEW, FILL, filled_after, quantity=10) is None


def test_open_and_terminal_statuses_partition_all_statuses():
    assert set(OrderStatus) == OPEN_STATUSES | TERMINAL_STATUSES
    assert not OPEN_STATUSES & TERMINAL_STATUSES
