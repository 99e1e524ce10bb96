"""Market data end to end: orders through the gateway trade in matching, the market service
turns matching's `marketdata` into quotes, depth and candles, and the gateway pushes the
trade to WebSocket subscribers. TSLA, JPM and V are this module's own symbols."""

import asyncio
import json
import math
import re
import time
from decimal import Decimal

import grpc
import httpx
import pytest

from tests.conftest import DEADLINE_SECONDS
from trademesh.market.v1 import market_pb2, market_pb2_grpc
from trademesh_gateway.live_quotes import render_quote

_GET_QUOTE_CALLS = re.compile(
    r'^trademesh_grpc_server_requests_total\{[^}]*method="[^"]*/GetQuote"[^}]*\} (\S+)$',
    re.MULTILINE,
)


async def get_quote_calls(mesh) -> int:
    """How many GetQuote calls the market service has answered (its Prometheus counter)."""
    async with httpx.AsyncClient() as client:
        text = (await client.get(mesh.services["market"].http_url + "/metrics")).text
    return int(sum(float(value) for value in _GET_QUOTE_CALLS.findall(text)))


pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def poll(fetch, done):
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        value = await fetch()
        if done(value) or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.1)


async def test_a_trade_reaches_the_quote_depth_candles_and_live_subscribers(traders):
    seller, buyer, watcher = await traders("seller"), await traders("buyer"), await traders("w")
    await watcher.subscribe("trades", "TSLA")
    await watcher.subscribe("quotes", "TSLA")
    await watcher.subscribe("candles", "TSLA")

    await seller.place(symbol="TSLA", side="sell", type="limit", quantity=5, price="200.00")
    await buyer.place(symbol="TSLA", side="buy", type="limit", quantity=3, price="200.50")

    trade = await watcher.wait_for_message(lambda m: m["type"] == "trades")
    assert trade["symbol"] == "TSLA"
    assert (trade["data"]["price"], trade["data"]["quantity"]) == ("200.00", 3)
    candle = await watcher.wait_for_message(
        lambda m: m["type"] == "candles" and m["data"]["interval"] == "1m"
    )
    assert (candle["data"]["close"], candle["data"]["volume"]) == ("200.00", 3)
    await watcher.wait_for_message(lambda m: m["type"] == "quotes" and m["data"]["volume"] == 3)

    async def quote():
        response = await watcher.http.get("/market/TSLA/quote")
        assert response.status_code == 200, response.text
        return response.json()

    body = await poll(quote, lambda q: q["volume"] == 3)
    assert (body["last"], body["ask"], body["ask_size"], body["bid"]) == (
        "200.00",
        "200.00",
        2,
        None,
    )
    # The first day of trading compares with the listing's reference price.
    assert (body["previous_close"], body["change"]) == ("200.00", "0.00")

    depth = (await watcher.http.get("/market/TSLA/depth")).json()
    assert depth == {"symbol": "TSLA", "bids": [], "asks": [{"price": "200.00", "quantity": 2}]}

    for interval in ("1m", "5m", "15m", "1h", "1d"):
        response = await watcher.http.get("/market/TSLA/candles", params={"interval": interval})
        assert response.status_code == 200, response.text
        (only,) = response.json()["candles"]
        assert (only["open"], only["close"], only["volume"], only["trade_count"]) == (
            "200.00",
            "200.00",
            3,
            1,
        )


async def test_search_and_fundamentals_through_the_gateway(traders):
    viewer = await traders("viewer")
    found = (await viewer.http.get("/market/instruments", params={"q": "tes"})).json()
    assert [i["symbol"] for i in found["instruments"]] == ["TSLA"]

    response = await viewer.http.get("/market/JPM/fundamentals")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["source"], body["price_basis"], body["price"]) == (
        "sample",
        "previous_close",
        "150.00",
    )
    metrics = {m["name"]: m for m in body["metrics"]}
    # A bank: no EBITDA in the sample data, so no EV/EBITDA; equity-based metrics work.
    assert metrics["ev_to_ebitda"]["value"] is None
    assert metrics["ev_to_ebitda"]["reason"]
    assert Decimal(metrics["pb_ratio"]["value"]) == Decimal("1.3130")  # 150 x 2.87bn / 327.88bn
    assert (await viewer.http.get("/market/NOPE/quote")).status_code == 404


async def test_quote_reads_from_the_gateways_live_cache_equal_the_market_service(mesh, traders):
    """The gateway answers quote reads from the live feed; whenever a client has seen a
    quote update, a read through the same gateway shows it, equal to market's answer."""
    seller, buyer, watcher = await traders("seller"), await traders("buyer"), await traders("w")
    await watcher.subscribe("quotes", "V")
    channel = grpc.aio.insecure_channel(mesh.services["market"].grpc_target)
    market = market_pb2_grpc.MarketServiceStub(channel)

    async def market_says() -> dict:
        reply = await market.GetQuote(market_pb2.GetQuoteRequest(symbol="V"), timeout=5)
        return json.loads(render_quote(reply))

    async def gateway_says() -> dict:
        response = await watcher.http.get("/market/V/quote")
        assert response.status_code == 200, response.text
        return response.json()

    try:
        await seller.place(symbol="V", side="sell", type="limit", quantity=10, price="250.00")
        for traded in (1, 2, 3):
            await buyer.place(symbol="V", side="buy", type="limit", quantity=1, price="250.00")
            await watcher.wait_for_message(
                lambda m, n=traded: m["type"] == "quotes" and m["data"]["volume"] == n
            )
            # The cache took the update before the WebSocket relay did: no stale read,
            # even well within the cache's max age.
            asked_before, started = await get_quote_calls(mesh), time.monotonic()
            for _ in range(20):
                assert (await gateway_says())["volume"] == traded
            # ...and served them: market is asked at most once per max age (1 s).
            elapsed = time.monotonic() - started
            assert await get_quote_calls(mesh) - asked_before <= 1 + math.ceil(elapsed)
            # Nothing trades now: the gateway's answer is market's, field for field.
            assert await gateway_says() == await market_says()
        assert (await gateway_says())["ask_size"] == 7
        assert await get_quote_calls(mesh) >= 3  # the counter is read right (the direct calls)
    finally:
        await channel.close()
