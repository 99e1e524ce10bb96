"""Market data as the public API shows it: prices are decimal strings, never ticks."""

from datetime import datetime
from enum import StrEnum
from typing import Literal

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


class Instrument(BaseModel):
    symbol: str
    name: str
    sector: str
    currency: str
    tick_size: str
    lot_size: int


class InstrumentList(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "instruments": [
                        {
                            "symbol": "AAPL",
                            "name": "Apple Inc.",
                            "sector": "Information Technology",
                            "currency": "USD",
                            "tick_size": "0.01",
                            "lot_size": 1,
                        }
                    ]
                }
            ]
        }
    )

    instruments: list[Instrument] = Field(
        description="Symbol-prefix matches first (an exact symbol on top), then name matches."
    )


class Quote(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "symbol": "AAPL",
                    "last": "151.20",
                    "bid": "151.19",
                    "bid_size": 300,
                    "ask": "151.22",
                    "ask_size": 120,
                    "previous_close": "150.00",
                    "change": "1.20",
                    "change_percent": "0.80",
                    "volume": 48210,
                    "last_trade_at": "2024-05-02T13:45:12.401234Z",
                }
            ]
        }
    )

    symbol: str
    last: str | None = Field(description="Last trade price; null before the first trade.")
    bid: str | None
    bid_size: int
    ask: str | None
    ask_size: int
    previous_close: str = Field(
        description="The last close before the current UTC day (the listing's reference "
        "price before the exchange has one)."
    )
    change: str | None = Field(description="last - previous_close.")
    change_percent: str | None
    volume: int = Field(description="Shares traded in the current UTC day.")
    last_trade_at: datetime | None


class DepthLevel(BaseModel):
    price: str
    quantity: int


class Depth(BaseModel):
    symbol: str
    bids: list[DepthLevel] = Field(description="Best (highest) price first.")
    asks: list[DepthLevel] = Field(description="Best (lowest) price first.")


class CandleInterval(StrEnum):
    M1 = "1m"
    M5 = "5m"
    M15 = "15m"
    H1 = "1h"
    D1 = "1d"


class Candle(BaseModel):
    start: datetime = Field(description="Bucket start, aligned in UTC.")
    open: str
    high: str
    low: str
    close: str
    volume: int
    trade_count: int


class CandlePage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "symbol": "AAPL",
                    "interval": "1m",
                    "candles": [
                        {
                            "start": "2024-05-02T13:45:00Z",
                            "open": "151.00",
                            "high": "151.40",
                            "low": "150.90",
                            "close": "151.20",
                            "volume": 1200,
                            "trade_count": 14,
                        }
                    ],
                    "next_to": "2024-05-02T13:45:00Z",
                }
            ]
        }
    )

    symbol: str
    interval: CandleInterval
    candles: list[Candle] = Field(description="Oldest first.")
    next_to: datetime | None = Field(
        description="When older candles remain in the range: pass as `to` for the previous "
        "page (scrolling back in a chart)."
    )


class FundamentalValue(BaseModel):
    name: str
    value: str | None
    reason: str | None = Field(description="Why the value is null.")
    unit: str = Field(description="money (in `currency`), shares or ratio.")


class Fundamentals(BaseModel):
    symbol: str
    source: str = Field(
        description='Where the raw inputs come from; "sample" is illustrative bundled data.'
    )
    currency: str
    period: str
    price: str = Field(description="The share price the valuation metrics use.")
    price_basis: Literal["last_trade", "previous_close"]
    inputs: list[FundamentalValue]
    metrics: list[FundamentalValue]
