"""Market data as the public API shows it: prices are decimal strings, never ticks."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from trademesh_gateway.schemas.orders import Side


class BookLevel(BaseModel):
    price: str
    quantity: int
    order_count: int


class OrderBook(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "symbol": "ACME",
                    "bids": [{"price": "101.20", "quantity": 300, "order_count": 2}],
                    "asks": [{"price": "101.25", "quantity": 60, "order_count": 1}],
                    "sequence": 18231,
                }
            ]
        }
    )

    symbol: str
    bids: list[BookLevel] = Field(description="Best (highest) price first.")
    asks: list[BookLevel] = Field(description="Best (lowest) price first.")
    sequence: int = Field(description="Position of the last change applied to this book.")


class Trade(BaseModel):
    """A print. The two order ids stay private: each belongs to a different user."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "trade_id": "trade-5512",
                    "symbol": "ACME",
                    "price": "101.20",
                    "quantity": 40,
                    "aggressor_side": "buy",
                    "created_at": "2024-05-02T13:45:12.401234Z",
                }
            ]
        }
    )

    trade_id: str
    symbol: str
    price: str
    quantity: int
    aggressor_side: Side
    created_at: datetime
