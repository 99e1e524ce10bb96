"""Watchlists as the public API shows them."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from trademesh_gateway.routes.params import SYMBOL_PATTERN
from trademesh_gateway.schemas.text import WireText

Symbol = Annotated[str, Field(min_length=1, max_length=32, pattern=SYMBOL_PATTERN)]


class Watchlist(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "watchlist_id": "5b0e6e58-2f6c-4d47-8a43-0f8d3c6fa3e1",
                    "name": "Tech",
                    "symbols": ["AAPL", "MSFT"],
                    "created_at": "2024-05-02T13:45:12.345678Z",
                    "updated_at": "2024-05-02T13:47:01.000001Z",
                }
            ]
        }
    )

    watchlist_id: str
    name: str
    symbols: list[str] = Field(description="Upper-case, in the order they were added.")
    created_at: datetime
    updated_at: datetime


class WatchlistList(BaseModel):
    watchlists: list[Watchlist]


class CreateWatchlistRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "Tech", "symbols": ["AAPL", "MSFT"]}]},
    )

    name: WireText = Field(min_length=1, max_length=64, description="Unique per user (any case).")
    symbols: list[Symbol] = Field(default_factory=list, max_length=100)


class RenameWatchlistRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"name": "Chips"}]})

    name: WireText = Field(min_length=1, max_length=64)


class AddSymbolRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"symbol": "NVDA"}]})

    symbol: Symbol
