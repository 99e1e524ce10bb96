"""Orders, fills and positions as the public API shows them."""

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

# Plain decimal notation only: no sign, exponent, spaces or thousands separators, so a price
# means the same thing to every client and to order entry.
DECIMAL_PATTERN = r"^[0-9]{1,18}(\.[0-9]{1,18})?$"
_INT64_MAX = 2**63 - 1

Side = Literal["buy", "sell"]
OrderType = Literal["limit", "market"]
TimeInForce = Literal["gtc", "ioc", "fok"]


class OrderStatus(StrEnum):
    PENDING_NEW = "pending_new"
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


_ORDER_EXAMPLE = {
    "order_id": "0f8e3c1a-6d2b-4c57-9a41-2b7d5e9c8f10",
    "client_order_id": "my-order-42",
    "symbol": "ACME",
    "side": "buy",
    "type": "limit",
    "time_in_force": "gtc",
    "quantity": 100,
    "price": "101.25",
    "status": "partially_filled",
    "filled_quantity": 40,
    "average_fill_price": "101.20",
    "reason": None,
    "created_at": "2024-05-02T13:45:12.345678Z",
    "updated_at": "2024-05-02T13:45:12.401234Z",
}

_FILL_EXAMPLE = {
    "execution_id": "exec-7731",
    "order_id": "0f8e3c1a-6d2b-4c57-9a41-2b7d5e9c8f10",
    "trade_id": "trade-5512",
    "symbol": "ACME",
    "side": "buy",
    "quantity": 40,
    "price": "101.20",
    "liquidity": "taker",
    "created_at": "2024-05-02T13:45:12.401234Z",
}


class PlaceOrderRequest(BaseModel):
    """Strict on purpose: a trading API must never guess what a malformed order meant."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "symbol": "ACME",
                    "side": "buy",
                    "type": "limit",
                    "time_in_force": "gtc",
                    "quantity": 100,
                    "price": "101.25",
                    "client_order_id": "my-order-42",
                },
                {"symbol": "ACME", "side": "sell", "type": "market", "quantity": 10},
            ]
        },
    )

    symbol: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._-]+$")
    side: Side
    type: OrderType
    time_in_force: TimeInForce = "gtc"
    quantity: int = Field(gt=0, le=_INT64_MAX, description="Units; a JSON integer.")
    price: str | None = Field(
        default=None,
        # Validated even when absent, so "limit without price" is reported on `price`.
        validate_default=True,
        pattern=DECIMAL_PATTERN,
        description='Limit price as a decimal string (limit orders only), e.g. `"101.25"`.',
    )
    client_order_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="Your idempotency key: resending it returns the original order.",
    )

    @field_validator("price")
    @classmethod
    def _price_matches_type(cls, price: str | None, info: ValidationInfo) -> str | None:
        order_type = info.data.get("type")  # absent when `type` itself was invalid
        if order_type == "limit":
            if price is None:
                raise ValueError("required for limit orders")
            if Decimal(price) <= 0:
                raise ValueError("must be greater than 0")
        elif order_type == "market" and price is not None:
            raise ValueError("must be omitted for market orders")
        return price


class Order(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_ORDER_EXAMPLE]})

    order_id: str
    client_order_id: str | None
    symbol: str
    side: Side
    type: OrderType
    time_in_force: TimeInForce
    quantity: int
    price: str | None = Field(description="Decimal string; null for market orders.")
    status: OrderStatus
    filled_quantity: int
    average_fill_price: str | None = Field(description="Decimal string; null before a fill.")
    reason: str | None = Field(description="Why the order was cancelled or rejected.")
    created_at: datetime
    updated_at: datetime


class OrderPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"orders": [_ORDER_EXAMPLE], "next_page_token": "b3JkZXItNDI="}]
        }
    )

    orders: list[Order]
    next_page_token: str | None = Field(
        description="Pass as `page_token` for the next page; null on the last page."
    )


class Fill(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_FILL_EXAMPLE]})

    execution_id: str
    order_id: str
    trade_id: str
    symbol: str
    side: Side
    quantity: int
    price: str
    liquidity: Literal["maker", "taker"]
    created_at: datetime


class FillList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"fills": [_FILL_EXAMPLE]}]})

    fills: list[Fill]


class Position(BaseModel):
    symbol: str
    quantity: int
    reserved_quantity: int = Field(description="Held for open sell orders.")
    average_price: str | None


class Positions(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "cash": "98500.00",
                    "reserved_cash": "1012.50",
                    "positions": [
                        {
                            "symbol": "ACME",
                            "quantity": 40,
                            "reserved_quantity": 0,
                            "average_price": "101.20",
                        }
                    ],
                }
            ]
        }
    )

    cash: str
    reserved_cash: str = Field(description="Held for open buy orders.")
    positions: list[Position]
