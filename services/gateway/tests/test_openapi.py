"""The OpenAPI document describes every route, its models, examples and errors."""

EXPECTED_OPERATIONS = {
    ("post", "/api/v1/orders"),
    ("get", "/api/v1/orders"),
    ("get", "/api/v1/orders/{order_id}"),
    ("delete", "/api/v1/orders/{order_id}"),
    ("get", "/api/v1/orders/{order_id}/fills"),
    ("get", "/api/v1/positions"),
    ("get", "/api/v1/trades/{trade_id}"),
    ("get", "/api/v1/market/{symbol}/book"),
    ("get", "/api/v1/social/{symbol}/posts"),
    ("post", "/api/v1/social/{symbol}/posts"),
    ("get", "/api/v1/social/posts/{post_id}/comments"),
    ("post", "/api/v1/social/posts/{post_id}/comments"),
    ("post", "/api/v1/social/posts/{post_id}/like"),
    ("get", "/api/v1/social/{symbol}/sentiment"),
    ("get", "/api/v1/news"),
    ("get", "/api/v1/news/search"),
    ("get", "/api/v1/market/instruments"),
    ("get", "/api/v1/market/{symbol}/quote"),
    ("get", "/api/v1/market/{symbol}/depth"),
    ("get", "/api/v1/market/{symbol}/candles"),
    ("get", "/api/v1/market/{symbol}/fundamentals"),
    ("post", "/api/v1/auth/register"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/refresh"),
    ("post", "/api/v1/auth/logout"),
    ("get", "/api/v1/.well-known/jwks.json"),
    ("get", "/api/v1/me"),
    ("get", "/api/v1/watchlists"),
    ("post", "/api/v1/watchlists"),
    ("get", "/api/v1/watchlists/{watchlist_id}"),
    ("patch", "/api/v1/watchlists/{watchlist_id}"),
    ("delete", "/api/v1/watchlists/{watchlist_id}"),
    ("post", "/api/v1/watchlists/{watchlist_id}/symbols"),
    ("delete", "/api/v1/watchlists/{watchlist_id}/symbols/{symbol}"),
}
# Public routes: everything else needs a bearer token.
PUBLIC_OPERATIONS = {
    ("get", "/api/v1/market/{symbol}/book"),
    ("post", "/api/v1/auth/register"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/refresh"),
    ("post", "/api/v1/auth/logout"),
    ("get", "/api/v1/.well-known/jwks.json"),
    ("get", "/api/v1/social/{symbol}/posts"),
    ("get", "/api/v1/social/posts/{post_id}/comments"),
    ("get", "/api/v1/social/{symbol}/sentiment"),
    ("get", "/api/v1/news"),
    ("get", "/api/v1/news/search"),
    ("get", "/api/v1/market/instruments"),
    ("get", "/api/v1/market/{symbol}/quote"),
    ("get", "/api/v1/market/{symbol}/depth"),
    ("get", "/api/v1/market/{symbol}/candles"),
    ("get", "/api/v1/market/{symbol}/fundamentals"),
}


async def fetch_document(client) -> dict:
    response = await client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


async def test_every_http_route_is_documented(client):
    document = await fetch_document(client)

    operations = {(method, path) for path, item in document["paths"].items() for method in item}
    assert operations == EXPECTED_OPERATIONS


async def test_every_route_has_a_typed_success_answer_and_envelope_errors(client):
    document = await fetch_document(client)

    for path, item in document["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            success = next(code for code in responses if code.startswith("2"))
            if success == "204":
                assert "content" not in responses[success], (method, path)
                continue
            schema = responses[success]["content"]["application/json"]["schema"]
            assert "$ref" in schema, (method, path)
            assert "422" not in responses, (method, path)
            assert responses["400"]["content"]["application/json"]["schema"]["$ref"] == (
                "#/components/schemas/ErrorEnvelope"
            )


async def test_the_place_order_request_is_strict_and_has_examples(client):
    document = await fetch_document(client)

    schema = document["components"]["schemas"]["PlaceOrderRequest"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["quantity"]["type"] == "integer"
    assert schema["examples"][0]["price"] == "101.25"
    assert document["components"]["schemas"]["Order"]["examples"]


async def test_place_order_documents_the_duplicate_answer(client):
    document = await fetch_document(client)

    responses = document["paths"]["/api/v1/orders"]["post"]["responses"]
    assert set(responses) >= {"200", "202", "401", "409", "413"}


async def test_user_routes_declare_the_bearer_scheme_and_public_ones_do_not(client):
    document = await fetch_document(client)

    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An access token from `POST /api/v1/auth/login` (or `/auth/refresh`).",
    }
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if (method, path) in PUBLIC_OPERATIONS:
                assert "security" not in operation, (method, path)
            else:
                assert operation["security"] == [{"bearerAuth": []}], (method, path)
                assert "401" in operation["responses"], (method, path)
                assert "429" in operation["responses"], (method, path)


async def test_websocket_messages_are_documented(client):
    document = await fetch_document(client)

    schemas = document["components"]["schemas"]
    assert {
        "HelloMessage",
        "OrderMessage",
        "FillMessage",
        "SubscriptionRequest",
        "SubscriptionAck",
        "SubscriptionError",
        "LiveMessage",
    } <= set(schemas)
    assert schemas["FillMessage"]["properties"]["fill"]["$ref"] == "#/components/schemas/Fill"
    assert "/api/v1/ws" in document["info"]["description"]
