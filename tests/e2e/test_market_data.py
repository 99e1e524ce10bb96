"""Market data end to end: orders through the gateway trade in matching, the market service
turns matching's `marketdata` into quotes, depth and candles, and the gateway pushes the
trade to WebSocket subscribers. TSLA and JPM are this module's own symbols."""

import asyncio
import time
from decimal import Decimal

import pytest

from tests.conftest import DEADLINE_SECONDS

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
