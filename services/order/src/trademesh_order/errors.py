"""Why order entry says no. Each carries a reason a person can read; the gRPC layer maps
the classes to status codes."""


class OrderEntryError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class OrderRejected(OrderEntryError):
    """A new order refused; `category` is a small fixed vocabulary for metrics."""

    def __init__(self, category: str, reason: str) -> None:
        super().__init__(reason)
        self.category = category


class InvalidOrder(OrderRejected):
    """The request itself is wrong (a malformed field, a broken trading rule)."""


class RiskRejected(OrderRejected):
    """The request is well-formed but the account cannot cover it."""


class InvalidRequest(OrderEntryError):
    """A read or cancel request is malformed."""


class OrderNotFound(OrderEntryError):
    """No such order for this user; deliberately the same whether it exists for someone else."""


class OrderNotOpen(OrderEntryError):
    """The order is already done (filled, cancelled or rejected)."""
