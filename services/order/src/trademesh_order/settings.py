"""The order service's configuration, from `TRADEMESH_*` environment variables."""

from decimal import Decimal

from pydantic import field_validator

from trademesh_common.config import ServiceSettings


def parse_starting_positions(text: str) -> dict[str, int]:
    """Parses "AAPL:1000,MSFT:500" into {"AAPL": 1000, "MSFT": 500}; empty text means none."""
    positions: dict[str, int] = {}
    for raw_entry in text.split(","):
        entry = raw_entry.strip()
        if not entry:
            continue
        symbol, separator, quantity = entry.partition(":")
        symbol = symbol.strip()
        if not separator or not symbol or not quantity.strip().isdigit():
            raise ValueError(f"expected SYMBOL:QUANTITY, got {entry!r}")
        if symbol in positions:
            raise ValueError(f"symbol {symbol} is given twice")
        positions[symbol] = int(quantity)
    return positions


class OrderSettings(ServiceSettings):
    service_name: str = "order"
    postgres_dsn: str = "postgresql://postgres@127.0.0.1:5432/orders"
    # Every user trades a paper account, opened on their first call with these holdings.
    paper_starting_cash: Decimal = Decimal(1_000_000)
    # "AAPL:1000,MSFT:500": positions a new paper account starts with (demos and tests).
    paper_starting_positions: str = ""
    # When false, a sell needs a position (net of open sells) covering its quantity.
    allow_short: bool = False

    @field_validator("paper_starting_cash")
    @classmethod
    def _cash_not_negative(cls, value: Decimal) -> Decimal:
        if not value.is_finite() or value < 0:
            raise ValueError("paper_starting_cash must be a non-negative number")
        return value

    @field_validator("paper_starting_positions")
    @classmethod
    def _positions_parse(cls, value: str) -> str:
        parse_starting_positions(value)  # fail at start-up, not on a user's first call
        return value

    @property
    def starting_positions(self) -> dict[str, int]:
        return parse_starting_positions(self.paper_starting_positions)
