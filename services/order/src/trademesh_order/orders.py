"""The order entry domain's vocabulary: sides, types, time in force, and the records it keeps."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from trademesh_order.states import OPEN_STATUSES, OrderStatus


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    LIMIT = "limit"
    MARKET = "market"


class TimeInForce(StrEnum):
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"


@dataclass(frozen=True)
class NewOrder:
    """A validated order request, before any money or position is reserved for it."""

    user_id: str
    symbol: str
    side: Side
    type: OrderType
    time_in_force: TimeInForce
    quantity: int
    # The client's limit price, on the tick grid; None for a market order.
    price: Decimal | None
    client_order_id: str | None


@dataclass(frozen=True)
class Order:
    order_id: str
    user_id: str
    client_order_id: str | None
    symbol: str
    side: Side
    type: OrderType
    time_in_force: TimeInForce
    quantity: int
    price: Decimal | None
    # The worst price it may trade at: the limit price, or a market order's protection price.
    limit_price: Decimal
    status: OrderStatus
    filled_quantity: int
    # Sum of price x quantity over the fills, exact; the average is derived from it.
    filled_notional: Decimal
    average_fill_price: Decimal | None
    # What the order still holds of its account's cash or position.
    reserved_cash: Decimal
    reserved_quantity: int
    reason: str
    # The OrderAccepted command's id: matching's reports name the command they answer.
    command_id: str
    created_at: datetime
    updated_at: datetime

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def remaining_quantity(self) -> int:
        return self.quantity - self.filled_quantity


@dataclass(frozen=True)
class Fill:
    execution_id: str
    order_id: str
    user_id: str
    trade_id: str
    symbol: str
    side: Side
    quantity: int
    price: Decimal
    liquidity: str
    created_at: datetime


@dataclass(frozen=True)
class Position:
    symbol: str
    quantity: int
    reserved_quantity: int
    average_price: Decimal


@dataclass(frozen=True)
class Account:
    user_id: str
    cash: Decimal
    reserved_cash: Decimal

    @property
    def available_cash(self) -> Decimal:
        return self.cash - self.reserved_cash
