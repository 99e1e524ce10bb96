"""The Alpha Vantage OVERVIEW adapter against a local HTTP server serving that format."""

import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from trademesh_market.fundamentals.alpha_vantage import AlphaVantageProvider
from trademesh_market.fundamentals.metrics import derive
from trademesh_market.fundamentals.provider import ProviderError

OVERVIEW = json.loads(
    (Path(__file__).parent / "fixtures/alphavantage_overview_ibm.json").read_text()
)
API_KEY = "test-key"


class OverviewHandler(BaseHTTPRequestHandler):
    """Answers like Alpha Vantage: a 200 with the document, `{}` for an unknown symbol,
    a 200 with "Note" when throttled, and a 500 for SICK."""

    requests: list[dict[str, list[str]]] = []

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        OverviewHandler.requests.append(query)
        symbol = query.get("symbol", [""])[0]
        if url.path != "/query" or query.get("apikey") != [API_KEY]:
            self._json(200, {"Error Message": "the parameter apikey is invalid or missing."})
        elif symbol == "IBM":
            self._json(200, OVERVIEW)
        elif symbol == "BUSY":
            self._json(
                200,
                {
                    "Note": "Thank you for using Alpha Vantage! Our standard API rate limit"
                    " is 25 requests per day."
                },
            )
        elif symbol == "SICK":
            self._json(500, {"oops": True})
        elif symbol == "JUNK":
            body = b"<html>not json</html>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self._json(200, {})

    def _json(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), OverviewHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
async def provider(server_url):
    provider = AlphaVantageProvider(server_url, API_KEY)
    yield provider
    await provider.close()


async def test_overview_maps_to_raw_inputs(provider):
    raw = await provider.fetch("IBM")
    assert raw is not None
    assert (raw.source, raw.currency, raw.period) == ("alphavantage", "USD", "TTM to 2024-03-31")
    assert raw.get("shares_outstanding") == Decimal(916579000)
    assert raw.get("revenue") == Decimal(62066999000)
    assert raw.get("gross_profit") == Decimal(32688000000)
    assert raw.get("ebitda") == Decimal(14604000000)
    assert raw.get("operating_income") == Decimal("0.121") * Decimal(62066999000)
    assert raw.get("net_income") == Decimal("0.133") * Decimal(62066999000)
    assert raw.get("total_equity") == Decimal("24.99") * Decimal(916579000)
    assert raw.get("dividends_per_share") == Decimal("6.64")
    # OVERVIEW has no balance-sheet debt or cash.
    assert raw.get("total_debt") is None
    assert raw.get("cash_and_equivalents") is None
    assert OverviewHandler.requests[-1]["function"] == ["OVERVIEW"]


async def test_metrics_from_the_overview(provider):
    metrics = {
        v.name: v for v in derive(await provider.fetch("IBM"), Decimal("191.47"), (None, None))
    }
    assert metrics["gross_margin"].value == Decimal("0.5267")  # 32.688bn / 62.067bn
    assert metrics["operating_margin"].value == Decimal("0.1210")
    assert metrics["dividend_yield"].value == Decimal("0.0347")  # 6.64 / 191.47
    assert metrics["enterprise_value"].value is None
    assert "total_debt" in metrics["enterprise_value"].reason


async def test_an_unknown_symbol_is_none(provider):
    assert await provider.fetch("ZZZZ") is None


@pytest.mark.parametrize("symbol", ["BUSY", "SICK", "JUNK"])
async def test_throttling_errors_and_garbage_are_provider_errors(provider, symbol):
    with pytest.raises(ProviderError):
        await provider.fetch(symbol)


async def test_a_bad_key_is_a_provider_error(server_url):
    provider = AlphaVantageProvider(server_url, "wrong")
    try:
        with pytest.raises(ProviderError, match="apikey"):
            await provider.fetch("IBM")
    finally:
        await provider.close()


async def test_an_unreachable_provider_is_a_provider_error():
    provider = AlphaVantageProvider("http://127.0.0.1:9", API_KEY, timeout_seconds=1)
    try:
        with pytest.raises(ProviderError):
            await provider.fetch("IBM")
    finally:
        await provider.close()
