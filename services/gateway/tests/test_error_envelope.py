"""Every failure answers with the envelope: gRPC refusals, identity, routing, body size."""

import grpc
import pytest

ORDER = {"symbol": "ACME", "side": "buy", "type": "limit", "quantity": 10, "price": "101.25"}


def error_of(response) -> dict:
    error = response.json()["error"]
    assert set(error) == {"code", "message", "request_id"}
    assert error["request_id"] == response.headers["x-request-id"]
    return error


@pytest.mark.parametrize(
    ("grpc_code", "details", "status", "code", "message"),
    [
        (
            grpc.StatusCode.INVALID_ARGUMENT,
            "price 101.255 is not a multiple of the tick size 0.01",
            400,
            "invalid_argument",
            "price 101.255 is not a multiple of the tick size 0.01",
        ),
        (grpc.StatusCode.NOT_FOUND, "unknown symbol ZZZ", 404, "not_found", "unknown symbol ZZZ"),
        (
            grpc.StatusCode.FAILED_PRECONDITION,
            "insufficient cash: need 1012.50, available 12.00",
            409,
            "failed_precondition",
            "insufficient cash: need 1012.50, available 12.00",
        ),
        (grpc.StatusCode.ALREADY_EXISTS, "order exists", 409, "already_exists", "order exists"),
        (
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "too many open orders",
            429,
            "resource_exhausted",
            "too many open orders",
        ),
        (
            grpc.StatusCode.PERMISSION_DENIED,
            "spiffe://mesh/gateway may not call PlaceOrder",
            403,
            "permission_denied",
            "not allowed to perform this operation",
        ),
        (
            grpc.StatusCode.UNAUTHENTICATED,
            "bad client cert",
            401,
            "unauthenticated",
            "the request could not be authenticated",
        ),
        (
            grpc.StatusCode.UNAVAILABLE,
            "connection refused ipv4:10.0.3.7:50051",
            503,
            "unavailable",
            "a backing service is unavailable; retry shortly",
        ),
        (
            grpc.StatusCode.DEADLINE_EXCEEDED,
            "deadline",
            504,
            "deadline_exceeded",
            "a backing service did not answer in time",
        ),
        (
            grpc.StatusCode.INTERNAL,
            "Traceback: KeyError in risk.py line 42",
            502,
            "upstream_error",
            "a backing service failed to handle the request",
        ),
        (
            grpc.StatusCode.UNIMPLEMENTED,
            "method not found",
            502,
            "upstream_error",
            "a backing service failed to handle the request",
        ),
    ],
)
async def test_grpc_failures_map_to_http(
    client, fakes, grpc_code, details, status, code, message, alice
):
    fakes.behaviour.fail_next("PlaceOrder", grpc_code, details)

    response = await client.post("/api/v1/orders", json=ORDER, headers=alice)

    assert response.status_code == status
    assert error_of(response)["code"] == code
    # Domain refusals pass through; anything describing the mesh itself is replaced.
    assert error_of(response)["message"] == message


async def test_an_unreachable_service_answers_503(gateway_for, alice):
    async with gateway_for(order_target="127.0.0.1:1", grpc_timeout_seconds=1.0) as gateway:
        response = await gateway.client.get("/api/v1/positions", headers=alice)

    assert response.status_code == 503
    assert error_of(response)["code"] == "unavailable"
    assert "127.0.0.1" not in response.text


async def test_an_answer_breaking_the_contract_is_a_502(client, fakes, alice):
    placed = (await client.post("/api/v1/orders", json=ORDER, headers=alice)).json()
    fakes.behaviour.orders[placed["order_id"]].side = "sideways"

    response = await client.get(f"/api/v1/orders/{placed['order_id']}", headers=alice)

    assert response.status_code == 502
    assert error_of(response) | {"request_id": ""} == {
        "code": "upstream_error",
        "message": "a backing service returned an invalid answer",
        "request_id": "",
    }


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/orders"),
        ("GET", "/api/v1/orders"),
        ("GET", "/api/v1/orders/ord-1"),
        ("DELETE", "/api/v1/orders/ord-1"),
        ("GET", "/api/v1/orders/ord-1/fills"),
        ("GET", "/api/v1/positions"),
        ("GET", "/api/v1/trades/trade-1"),
    ],
)
async def test_user_routes_answer_401_without_a_token(client, fakes, method, path):
    response = await client.request(method, path, json=ORDER if method == "POST" else None)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert error_of(response) == {
        "code": "unauthenticated",
        "message": "authentication required: send Authorization: Bearer <token>",
        "request_id": response.headers["x-request-id"],
    }
    assert set(fakes.behaviour.requests) <= {"GetJwks"}  # nothing reached a service


async def test_a_malformed_token_is_refused(client):
    response = await client.get("/api/v1/positions", headers={"Authorization": "Bearer a.b"})

    assert response.status_code == 401
    assert error_of(response)["message"] == "access token is malformed"


async def test_the_order_book_is_public_even_without_a_token(client):
    response = await client.get("/api/v1/market/ACME/book")

    assert response.status_code == 200


async def test_an_unknown_route_answers_404_in_the_envelope(client):
    response = await client.get("/api/v1/nothing-here")

    assert response.status_code == 404
    assert error_of(response) | {"request_id": ""} == {
        "code": "not_found",
        "message": "no such route: GET /api/v1/nothing-here",
        "request_id": "",
    }


async def test_a_wrong_method_answers_405_in_the_envelope(client, alice):
    response = await client.put("/api/v1/positions", headers=alice)

    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"
    assert "PUT is not allowed on /api/v1/positions" in error_of(response)["message"]
    assert response.headers["allow"] == "GET"


async def test_a_declared_body_over_the_limit_answers_413_before_reading_it(
    gateway_for, fakes, alice
):
    async with gateway_for(max_body_bytes=1024) as gateway:
        response = await gateway.client.post(
            "/api/v1/orders",
            content=b"{" + b" " * 2048 + b"}",
            headers={**alice, "Content-Type": "application/json"},
        )

    assert response.status_code == 413
    assert error_of(response) | {"request_id": ""} == {
        "code": "payload_too_large",
        "message": "request body exceeds the limit of 1024 bytes",
        "request_id": "",
    }
    assert fakes.behaviour.calls("PlaceOrder") == []


async def test_a_streamed_body_over_the_limit_answers_413(gateway_for, fakes, alice):
    async def chunks():
        for _ in range(8):
            yield b" " * 256  # no Content-Length: counted as it arrives

    async with gateway_for(max_body_bytes=1024) as gateway:
        response = await gateway.client.post(
            "/api/v1/orders",
            content=chunks(),
            headers={**alice, "Content-Type": "application/json"},
        )

    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"
    assert fakes.behaviour.calls("PlaceOrder") == []


async def test_the_default_body_limit_is_64_kib(client, alice):
    order = {**ORDER, "client_order_id": "x"}
    padded = b'{"symbol": "ACME"' + b" " * (64 * 1024) + b"}"

    too_big = await client.post(
        "/api/v1/orders", content=padded, headers={**alice, "Content-Type": "application/json"}
    )
    fine = await client.post("/api/v1/orders", json=order, headers=alice)

    assert too_big.status_code == 413
    assert fine.status_code == 202


async def test_a_caller_supplied_request_id_is_kept(client):
    response = await client.get("/api/v1/nothing", headers={"X-Request-Id": "req-123"})

    assert response.headers["x-request-id"] == "req-123"
    assert response.json()["error"]["request_id"] == "req-123"
