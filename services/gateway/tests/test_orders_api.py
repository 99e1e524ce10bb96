"""Order routes: what the gateway sends to OrderService and what the caller sees."""

LIMIT_BUY = {
    "symbol": "ACME",
    "side": "buy",
    "type": "limit",
    "time_in_force": "ioc",
    "quantity": 100,
    "price": "101.25",
    "client_order_id": "my-order-42",
}


async def test_placing_an_order_forwards_every_field_and_answers_202(client, fakes, alice):
    response = await client.post("/api/v1/orders", json=LIMIT_BUY, headers=alice)

    assert response.status_code == 202
    sent = fakes.behaviour.calls("PlaceOrder")[-1]
    assert (sent.user_id, sent.symbol, sent.side, sent.type, sent.time_in_force) == (
        "alice",
        "ACME",
        "buy",
        "limit",
        "ioc",
    )
    assert (sent.quantity, sent.price, sent.client_order_id) == (100, "101.25", "my-order-42")
    body = response.json()
    assert body == {
        "order_id": "ord-1",
        "client_order_id": "my-order-42",
        "symbol": "ACME",
        "side": "buy",
        "type": "limit",
        "time_in_force": "ioc",
        "quantity": 100,
        "price": "101.25",
        "status": "pending_new",
        "filled_quantity": 0,
        "average_fill_price": None,
        "reason": None,
        "created_at": "2024-05-02T13:45:12.345678Z",
        "updated_at": "2024-05-02T13:45:12.345678Z",
    }
    assert response.headers["location"] == "/api/v1/orders/ord-1"


async def test_a_market_order_defaults_to_gtc_and_sends_no_price(client, fakes, alice):
    order = {"symbol": "ACME", "side": "sell", "type": "market", "quantity": 5}

    response = await client.post("/api/v1/orders", json=order, headers=alice)

    assert response.status_code == 202
    sent = fakes.behaviour.calls("PlaceOrder")[-1]
    assert (sent.time_in_force, sent.price, sent.client_order_id) == ("gtc", "", "")
    assert response.json()["price"] is None
    assert response.json()["client_order_id"] is None


async def test_a_repeated_client_order_id_answers_200_with_the_original_order(client, alice):
    first = await client.post("/api/v1/orders", json=LIMIT_BUY, headers=alice)
    again = await client.post("/api/v1/orders", json={**LIMIT_BUY, "quantity": 7}, headers=alice)

    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json() == first.json()


async def test_cancelling_answers_202_with_the_order(client, fakes, alice):
    placed = (await client.post("/api/v1/orders", json=LIMIT_BUY, headers=alice)).json()

    response = await client.delete(f"/api/v1/orders/{placed['order_id']}", headers=alice)

    assert response.status_code == 202
    assert response.json()["order_id"] == placed["order_id"]
    sent = fakes.behaviour.calls("CancelOrder")[-1]
    assert (sent.user_id, sent.order_id) == ("alice", placed["order_id"])


async def test_reading_one_order_is_scoped_to_the_caller(client, alice, mint):
    placed = (await client.post("/api/v1/orders", json=LIMIT_BUY, headers=alice)).json()

    mine = await client.get(f"/api/v1/orders/{placed['order_id']}", headers=alice)
    theirs = await client.get(
        f"/api/v1/orders/{placed['order_id']}", headers=mint.headers("mallory")
    )

    assert mine.status_code == 200
    assert mine.json() == placed
    assert theirs.status_code == 404
    assert theirs.json()["error"]["code"] == "not_found"


async def test_listing_orders_passes_filters_and_paging(client, fakes, alice):
    await client.post("/api/v1/orders", json=LIMIT_BUY, headers=alice)

    response = await client.get(
        "/api/v1/orders",
        params={"symbol": "ACME", "open_only": "true", "limit": 25, "page_token": "abc"},
        headers=alice,
    )

    assert response.status_code == 200
    sent = fakes.behaviour.calls("ListOrders")[-1]
    assert (sent.user_id, sent.symbol, sent.open_only, sent.limit, sent.page_token) == (
        "alice",
        "ACME",
        True,
        25,
        "abc",
    )
    body = response.json()
    assert [order["order_id"] for order in body["orders"]] == ["ord-1"]
    assert body["next_page_token"] == "page-2"


async def test_listing_orders_uses_defaults_when_no_filter_is_given(client, fakes, alice):
    response = await client.get("/api/v1/orders", headers=alice)

    assert response.status_code == 200
    sent = fakes.behaviour.calls("ListOrders")[-1]
    assert (sent.symbol, sent.open_only, sent.limit, sent.page_token) == ("", False, 100, "")


async def test_fills_of_an_order(client, fakes, alice):
    response = await client.get("/api/v1/orders/ord-9/fills", headers=alice)

    assert response.status_code == 200
    assert response.json() == {
        "fills": [
            {
                "execution_id": "exec-1",
                "order_id": "ord-9",
                "trade_id": "trade-1",
                "symbol": "ACME",
                "side": "buy",
                "quantity": 40,
                "price": "101.20",
                "liquidity": "taker",
                "created_at": "2024-05-02T13:45:12.345678Z",
            }
        ]
    }
    assert fakes.behaviour.calls("ListFills")[-1].user_id == "alice"


async def test_positions(client, fakes, alice):
    response = await client.get("/api/v1/positions", headers=alice)

    assert response.status_code == 200
    assert response.json() == {
        "cash": "98500.00",
        "reserved_cash": "1012.50",
        "positions": [
            {"symbol": "ACME", "quantity": 40, "reserved_quantity": 10, "average_price": "101.20"}
        ],
    }
    assert fakes.behaviour.calls("GetPositions")[-1].user_id == "alice"
