"""What a fundamentals provider gives: raw inputs for one instrument, from one source."""

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

# The raw inputs the metrics pipeline reads; money in the instrument's currency.
INPUT_UNITS = {
    "shares_outstanding": "shares",
    "revenue": "money",
    "gross_profit": "money",
    "operating_income": "money",
    "net_income": "money",
    "ebitda": "money",
    "total_debt": "money",
    "cash_and_equivalents": "money",
    "total_equity": "money",
    "dividends_per_share": "money",
}


@dataclass(frozen=True, slots=True)
class RawFundamentals:
    symbol: str
    source: str
    currency: str
    period: str
    # Keyed by INPUT_UNITS' names; a missing or None entry is an input the source lacks.
    values: Mapping[str, Decimal | None]

    def get(self, name: str) -> Decimal | None:
        return self.values.get(name)


class ProviderError(Exception):
    """The provider could not answer now (unreachable, throttled, malformed answer)."""


class FundamentalsProvider(Protocol):
    source: str

    async def fetch(self, symbol: str) -> RawFundamentals | None:
        """The instrument's raw inputs; None when the provider has nothing for it."""
        ...


def parse_decimal(value: object) -> Decimal | None:
    """A provider's number (string or number) as a Decimal; None for blanks and markers
    such as "None" or "-" that providers use for missing values."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    if not text or text in {"None", "-", "null", "N/A", "NaN"}:
        return None
    try:
        number = Decimal(text)
    except ArithmeticError:
        return None
    return number if number.is_finite() else None
