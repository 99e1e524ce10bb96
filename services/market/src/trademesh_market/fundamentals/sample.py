"""The default provider: a small dataset bundled with the package, labelled as sample data."""

import json
from decimal import Decimal
from importlib import resources
from typing import Any

from trademesh_market.fundamentals.provider import INPUT_UNITS, RawFundamentals, parse_decimal

SOURCE = "sample"
_DATASET = ("trademesh_market.fundamentals.data", "sample_fundamentals.json")


class SampleProvider:
    source = SOURCE

    def __init__(self, dataset: dict[str, Any] | None = None) -> None:
        if dataset is None:
            package, name = _DATASET
            dataset = json.loads(resources.files(package).joinpath(name).read_text())
        self._currency = dataset["currency"]
        self._by_symbol: dict[str, dict[str, Any]] = dataset["instruments"]

    async def fetch(self, symbol: str) -> RawFundamentals | None:
        entry = self._by_symbol.get(symbol)
        if entry is None:
            return None
        values: dict[str, Decimal | None] = {
            name: parse_decimal(entry.get(name)) for name in INPUT_UNITS
        }
        return RawFundamentals(
            symbol=symbol,
            source=SOURCE,
            currency=self._currency,
            period=entry["period"],
            values=values,
        )
