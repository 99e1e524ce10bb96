"""Book and trade routes: ticks from matching become decimal prices."""

import grpc
import pytest


async def test_the_book_converts_ticks_with_the_instruments_tick_size(client, fakes):
    response = await client.get("/api/v1/market/ACME/book?depth=5")

    assert response.status_code == 200
    assert response.json() == {
        "symbol": "ACME",
        "bids": [
            {"price": "101.20", "quantity": 300, "order_count": 2},
            {"price": "101.00", "quantity": 50, "order_count": 1},
        ],
        "asks": [{"price": "101.25", "quantity": 60, "order_count": 1}],
        "sequence": 18231,
    }
    sent = fakes.behaviour.calls("GetDepth")[-1]
    assert (sent.symbol, sent.depth) == ("ACME", 5)


async def test_the_book_depth_defaults_to_10(client, fakes):
    await client.get("/api/v1/market/ACME/book")

    assert fakes.behaviour.calls("GetDepth")[-1].depth == 10


async def test_an_unknown_symbol_is_a_404_without_asking_matching(client, fakes):
    response = await client.get("/api/v1/market/NOPE/book")

    assert response.status_code == 404
    assert response.json()["error"]["message"] == "unknown symbol: NOPE"
    assert fakes.behaviour.calls("GetDepth") == []


async def test_instruments_are_cached_between_requests(client, fakes):
    for _ in range(3):
        assert (await client.get("/api/v1/market/ACME/book")).status_code == 200
    await client.get("/api/v1/market/NOPE/book")

    assert len(fakes.behaviour.calls("ListInstruments")) == 1


async def test_order_entry_down_before_the_first_load_is_a_503(client, fakes):
    fakes.behaviour.fail_next("ListInstruments", grpc.StatusCode.UNAVAILABLE, "down")

    response = await client.get("/api/v1/market/ACME/book")

    assert response.status_code == 503
    assert fakes.behaviour.calls("GetDepth") == []


async def test_a_trade_price_is_converted_and_order_ids_stay_private(client, alice):
    response = await client.get("/api/v1/trades/trade-1", headers=alice)

    assert response.status_code == 200
    assert response.json() == {
        "trade_id": "trade-1",
        "symbol": "WIDG",
        "price": "202.5",
        "quantity": 40,
        "aggressor_side": "buy",
        "created_at": "2024-05-02T13:45:12.345678Z",
    }


async def test_an_unknown_trade_is_a_404(client, alice):
    response = await client.get("/api/v1/trades/trade-404", headers=alice)

    assert response.status_code == 404
    assert response.json()["error"]["message"] == "trade trade-404 not found"


async def test_instrument_search_passes_the_query_on(client, fakes):
    response = await client.get("/api/v1/market/instruments?q=AC&limit=5")

    assert response.status_code == 200
    assert response.json() == {
        "instruments": [
            {
                "symbol": "ACME",
                "name": "Acme Corporation",
                "sector": "Industrials",
                "currency": "USD",
                "tick_size": "0.01",
                "lot_size": 1,
            }
        ]
    }
    sent = fakes.behaviour.calls("SearchInstruments")[-1]
    assert (sent.query, sent.limit) == ("AC", 5)


async def test_a_quote_shows_missing_prices_as_null(client):
    response = await client.get("/api/v1/market/ACME/quote")

    assert response.status_code == 200
    assert response.json() == {
        "symbol": "ACME",
        "last": "101.25",
        "bid": "101.20",
        "bid_size": 300,
        "ask": None,
        "ask_size": 0,
        "previous_close": "100.00",
        "change": "1.25",
        "change_percent": "1.25",
        "volume": 340,
        "last_trade_at": "2024-05-02T13:45:12.345678Z",
    }


async def test_an_unknown_symbol_quote_is_a_404_envelope(client):
    response = await client.get("/api/v1/market/NOPE/quote")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_depth_from_the_market_service(client, fakes):
    response = await client.get("/api/v1/market/ACME/depth?depth=3")

    assert response.status_code == 200
    assert response.json() == {
        "symbol": "ACME",
        "bids": [{"price": "101.20", "quantity": 300}],
        "asks": [],
    }
    assert fakes.behaviour.calls("MarketGetDepth")[-1].depth == 3


async def test_candles_take_times_as_iso_or_unix_seconds_and_page_back(client, fakes):
    response = await client.get(
        "/api/v1/market/ACME/candles",
        params={"interval": "5m", "from": "2024-05-02T00:00:00Z", "to": "1714694400", "limit": 2},
    )

    assert response.status_code == 200
    assert response.json() == {
        "symbol": "ACME",
        "interval": "5m",
        "candles": [
            {
                "start": "2024-05-02T13:45:00Z",
                "open": "101.00",
                "high": "101.50",
                "low": "100.90",
                "close": "101.25",
                "volume": 340,
                "trade_count": 3,
            }
        ],
        "next_to": "2024-05-02T13:45:00Z",
    }
    sent = fakes.behaviour.calls("GetCandles")[-1]
    assert (sent.interval, sent.from_us, sent.to_us, sent.limit) == (
        2,  # CANDLE_INTERVAL_5M
        1_714_608_000_000_000,
        1_714_694_400_000_000,
        2,
    )


@pytest.mark.parametrize(
    "query",
    [
        "interval=2m",
        "limit=0",
        "limit=5000",
        "from=yesterday",
        "from=2024-05-02T10:00:00Z&to=2024-05-02T09:00:00Z",
        "to=1969-01-01T00:00:00Z",
    ],
)
async def test_bad_candle_queries_are_400s(client, fakes, query):
    response = await client.get(f"/api/v1/market/ACME/candles?{query}")

    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_argument"
    assert fakes.behaviour.calls("GetCandles") == []


async def test_fundamentals_keep_null_values_with_their_reasons(client):
    response = await client.get("/api/v1/market/ACME/fundamentals")

    assert response.status_code == 200
    body = response.json()
    assert (body["source"], body["price"], body["price_basis"]) == (
        "sample",
        "101.25",
        "last_trade",
    )
    assert body["metrics"] == [
        {"name": "pe_ratio", "value": "20.25", "reason": None, "unit": "ratio"},
        {
            "name": "ev_to_ebitda",
            "value": None,
            "reason": "ebitda is zero or negative",
            "unit": "ratio",
        },
    ]
