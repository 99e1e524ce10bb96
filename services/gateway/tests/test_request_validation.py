"""Malformed requests never reach a service and answer 400 with the precise reason."""

import json

import pytest

VALID = {"symbol": "ACME", "side": "buy", "type": "limit", "quantity": 10, "price": "101.25"}


def assert_invalid(response, *fragments: str) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_argument"
    assert error["request_id"] == response.headers["x-request-id"]
    for fragment in fragments:
        assert fragment in error["message"], error["message"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"quantity": "10"}, "body.quantity: Input should be a valid integer"),
        ({"quantity": 10.0}, "body.quantity: Input should be a valid integer"),
        ({"quantity": 1.5}, "body.quantity: Input should be a valid integer"),
        ({"quantity": True}, "body.quantity: Input should be a valid integer"),
        ({"quantity": -5}, "body.quantity: Input should be greater than 0"),
        ({"quantity": 0}, "body.quantity: Input should be greater than 0"),
        ({"quantity": 2**63}, "body.quantity: Input should be less than or equal to"),
        ({"price": 101.25}, "body.price: Input should be a valid string"),
        ({"price": "1e5"}, "body.price: String should match pattern"),
        ({"price": "-1.00"}, "body.price: String should match pattern"),
        ({"price": " 1.00"}, "body.price: String should match pattern"),
        ({"price": "0.00"}, "body.price: must be greater than 0"),
        ({"price": None}, "body.price: required for limit orders"),
        ({"side": "short"}, "body.side: Input should be 'buy' or 'sell'"),
        ({"type": "stop"}, "body.type: Input should be 'limit' or 'market'"),
        ({"time_in_force": "day"}, "body.time_in_force: Input should be 'gtc', 'ioc' or 'fok'"),
        ({"symbol": ""}, "body.symbol: String should have at least 1 character"),
        ({"symbol": "AC ME"}, "body.symbol: String should match pattern"),
        ({"client_order_id": "x" * 65}, "body.client_order_id: String should have at most 64"),
        ({"leverage": 100}, "body.leverage: Extra inputs are not permitted"),
    ],
)
async def test_an_invalid_order_is_refused_with_the_field_and_reason(
    client, fakes, change, reason, alice
):
    response = await client.post("/api/v1/orders", json={**VALID, **change}, headers=alice)

    assert_invalid(response, reason)
    assert fakes.behaviour.calls("PlaceOrder") == []


async def test_a_limit_order_without_price_names_the_price(client, alice):
    order = {key: value for key, value in VALID.items() if key != "price"}

    response = await client.post("/api/v1/orders", json=order, headers=alice)

    assert_invalid(response, "body.price: required for limit orders")


async def test_a_market_order_with_a_price_is_refused(client, alice):
    order = {**VALID, "type": "market"}

    response = await client.post("/api/v1/orders", json=order, headers=alice)

    assert_invalid(response, "body.price: must be omitted for market orders")


async def test_missing_fields_are_each_named(client, alice):
    response = await client.post("/api/v1/orders", json={"symbol": "ACME"}, headers=alice)

    assert_invalid(
        response, "body.side: Field required", "body.type: Field required", "body.quantity"
    )


async def test_malformed_json_is_refused_with_its_position(client, alice):
    response = await client.post(
        "/api/v1/orders",
        content=b'{"symbol": "ACME", "quantity": 1',
        headers={**alice, "Content-Type": "application/json"},
    )

    assert_invalid(response, "body: malformed JSON at character 32")


async def test_a_body_that_is_not_an_object_is_refused(client, alice):
    response = await client.post("/api/v1/orders", json=[VALID], headers=alice)

    assert_invalid(response, "body: Input should be a valid dictionary")


async def test_an_empty_body_is_refused(client, alice):
    response = await client.post(
        "/api/v1/orders", headers={**alice, "Content-Type": "application/json"}
    )

    assert_invalid(response, "body: a JSON object is required")


async def test_a_body_not_declared_as_json_is_refused(client, alice):
    response = await client.post(
        "/api/v1/orders",
        content=b'{"symbol": "ACME"}',
        headers={**alice, "Content-Type": "text/plain"},
    )

    assert_invalid(response, "body: must be JSON sent with Content-Type: application/json")


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("depth=0", "query.depth: Input should be greater than or equal to 1"),
        ("depth=51", "query.depth: Input should be less than or equal to 50"),
        ("depth=ten", "query.depth: Input should be a valid integer"),
    ],
)
async def test_book_depth_is_bounded(client, query, reason):
    response = await client.get(f"/api/v1/market/ACME/book?{query}")

    assert_invalid(response, reason)


async def test_list_query_parameters_are_validated(client, alice):
    response = await client.get("/api/v1/orders?limit=0&open_only=maybe", headers=alice)

    assert_invalid(response, "query.limit: Input should be greater than or equal to 1", "open_only")


async def test_path_ids_are_bounded(client, fakes, alice):
    response = await client.get("/api/v1/orders/" + "x" * 65, headers=alice)

    assert_invalid(response, "path.order_id: String should have at most 64 characters")
    assert fakes.behaviour.calls("GetOrder") == []


async def test_an_unknown_query_parameter_is_refused_with_its_name(client, alice):
    response = await client.get("/api/v1/orders", params={"limt": "5"}, headers=alice)
    assert_invalid(response, "unknown query parameter(s): 'limt'")


async def test_nul_in_a_query_parameter_is_refused_with_its_name(client, fakes, alice):
    response = await client.get(
        "/api/v1/market/instruments", params={"q": "AA\x00", "limit": "5"}, headers=alice
    )

    assert_invalid(response, "query parameter(s) 'q' must not contain NUL (%00)")
    assert fakes.behaviour.calls("SearchInstruments") == []


async def test_declared_query_parameters_still_work(client, alice):
    response = await client.get("/api/v1/orders", params={"limit": "5"}, headers=alice)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("path", "body", "reason"),
    [
        (
            "/api/v1/auth/login",
            {"username": "nul\x00", "password": "pw"},
            "body.username: text must not contain NUL",
        ),
        ("/api/v1/auth/login", {"username": "alice", "password": "\ud800"}, "body.password"),
        ("/api/v1/auth/register", {"username": "\udfff", "password": "pw"}, "body.username"),
        (
            "/api/v1/auth/refresh",
            {"refresh_token": "t\x00"},
            "body.refresh_token: text must not contain NUL",
        ),
        ("/api/v1/watchlists", {"name": "Tech\x00"}, "body.name: text must not contain NUL"),
        ("/api/v1/watchlists", {"name": "Tech\ud800"}, "body.name"),
        (
            "/api/v1/social/ACME/posts",
            {"text": "$ACME \x00"},
            "body.text: text must not contain NUL",
        ),
        ("/api/v1/social/ACME/posts", {"text": "$ACME \ud83d"}, "body.text"),
    ],
)
async def test_text_no_service_can_carry_is_refused_at_the_edge(
    client, fakes, alice, path, body, reason
):
    # JSON may spell an unpaired surrogate, which protobuf cannot encode, and NUL, which
    # PostgreSQL cannot store: both are the caller's error, never a failed call further in.
    response = await client.post(
        path,
        content=json.dumps(body),  # ASCII with escapes, the way a client can send a surrogate
        headers={**alice, "content-type": "application/json"},
    )

    assert_invalid(response, reason)
    called = {method for method, calls in fakes.behaviour.requests.items() if calls}
    assert called <= {"GetJwks"}  # the gateway's own key fetch, nothing on the caller's behalf


@pytest.mark.parametrize("path", ["/api/v1/orders", "/api/v1/news", "/api/v1/social/ACME/posts"])
@pytest.mark.parametrize(
    ("token", "reason"),
    [("", "at least 1 character"), ("a+b/c=", "should match pattern"), ("x" * 513, "at most 512")],
)
async def test_a_page_token_that_no_listing_made_is_refused(client, alice, path, token, reason):
    response = await client.get(path, params={"page_token": token}, headers=alice)

    assert_invalid(response, "query.page_token", reason)
