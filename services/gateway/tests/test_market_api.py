"""Book and trade routes: ticks from matching become decimal prices."""

import grpc


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
