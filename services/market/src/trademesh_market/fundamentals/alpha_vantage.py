"""An external provider: Alpha Vantage's company OVERVIEW document.

`GET {base_url}/query?function=OVERVIEW&symbol=IBM&apikey=...` answers one JSON
object of strings ("None" or "-" where a figure is missing). It has trailing
twelve-month revenue, gross profit and EBITDA, margins, book value per share
and the dividend per share, but no balance-sheet debt or cash: the metrics that
need those come out null with that reason. Throttling and errors arrive as a
200 with a "Note", "Information" or "Error Message" field.
"""

from decimal import Decimal
from typing import Any

import httpx

from trademesh_market.fundamentals.provider import ProviderError, RawFundamentals, parse_decimal

SOURCE = "alphavantage"
_ERROR_FIELDS = ("Error Message", "Note", "Information")


class AlphaVantageProvider:
    source = SOURCE

    def __init__(self, base_url: str, api_key: str, timeout_seconds: float = 5.0) -> None:
        self._client = httpx.AsyncClient(base_url=base_url, timeout=timeout_seconds)
        self._api_key = api_key

    async def close(self) -> None:
        await self._client.aclose()

    async def fetch(self, symbol: str) -> RawFundamentals | None:
        try:
            response = await self._client.get(
                "/query",
                params={"function": "OVERVIEW", "symbol": symbol, "apikey": self._api_key},
            )
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise ProviderError(f"alphavantage: {error!r}") from error
        if not isinstance(body, dict):
            raise ProviderError("alphavantage: the answer is not a JSON object")
        for field in _ERROR_FIELDS:
            if field in body:
                raise ProviderError(f"alphavantage: {body[field]}")
        if not body:  # its answer for a symbol it does not cover
            return None
        return overview_to_raw(symbol, body)


def overview_to_raw(symbol: str, body: dict[str, Any]) -> RawFundamentals:
    shares = parse_decimal(body.get("SharesOutstanding"))
    revenue = parse_decimal(body.get("RevenueTTM"))
    book_value_per_share = parse_decimal(body.get("BookValue"))
    values: dict[str, Decimal | None] = {
        "shares_outstanding": shares,
        "revenue": revenue,
        "gross_profit": parse_decimal(body.get("GrossProfitTTM")),
        "operating_income": _times(parse_decimal(body.get("OperatingMarginTTM")), revenue),
        "net_income": _times(parse_decimal(body.get("ProfitMargin")), revenue),
        "ebitda": parse_decimal(body.get("EBITDA")),
        "total_debt": None,
        "cash_and_equivalents": None,
        "total_equity": _times(book_value_per_share, shares),
        "dividends_per_share": parse_decimal(body.get("DividendPerShare")),
    }
    quarter = body.get("LatestQuarter") or "unknown"
    return RawFundamentals(
        symbol=symbol,
        source=SOURCE,
        currency=str(body.get("Currency") or "USD"),
        period=f"TTM to {quarter}",
        values=values,
    )


def _times(a: Decimal | None, b: Decimal | None) -> Decimal | None:
    return None if a is None or b is None else a * b
