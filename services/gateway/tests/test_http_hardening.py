"""Security headers, CORS and the last-resort 500, on the real app."""

import httpx
import pytest
from prometheus_client import REGISTRY

from trademesh_gateway.middleware.unhandled_errors import UnhandledErrorMiddleware

ALLOWED = "https://terminal.example"
FOREIGN = "https://evil.example"

EXPECTED_SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "content-security-policy": (
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "cache-control": "no-store",
}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1/positions", 200),
        ("GET", "/api/v1/market/ACME/book", 200),
        ("GET", "/api/v1/positions-typo", 404),
        ("POST", "/api/v1/orders", 400),
        ("GET", "/api/v1/openapi.json", 200),
        ("GET", "/healthz", 200),
    ],
)
async def test_every_answer_carries_the_security_headers(client, method, path, status, alice):
    response = await client.request(method, path, headers=alice)

    assert response.status_code == status
    for name, value in EXPECTED_SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, name


async def test_an_allowed_origin_may_read_answers(client, alice):
    response = await client.get("/api/v1/positions", headers={**alice, "Origin": ALLOWED})

    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert response.headers["access-control-allow-credentials"] == "true"
    assert "x-request-id" in response.headers["access-control-expose-headers"]


async def test_a_foreign_origin_gets_no_cors_grant(client, alice):
    response = await client.get("/api/v1/positions", headers={**alice, "Origin": FOREIGN})

    assert "access-control-allow-origin" not in response.headers


async def test_a_preflight_from_an_allowed_origin_is_granted(client):
    response = await client.options(
        "/api/v1/orders",
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, authorization",
        },
    )

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "Authorization" in response.headers["access-control-allow-headers"]


async def test_a_preflight_from_a_foreign_origin_is_refused_in_the_envelope(client):
    response = await client.options(
        "/api/v1/orders",
        headers={"Origin": FOREIGN, "Access-Control-Request-Method": "POST"},
    )

    assert response.status_code == 403
    assert "access-control-allow-origin" not in response.headers
    error = response.json()["error"]
    assert error["code"] == "permission_denied"
    assert error["message"] == "CORS preflight refused: origin not allowed"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_the_retired_identity_header_is_not_offered_to_browsers(client):
    response = await client.options(
        "/api/v1/orders",
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-trademesh-user",
        },
    )

    assert response.status_code == 403
    assert response.json()["error"]["message"] == "CORS preflight refused: headers not allowed"


async def test_a_bug_answers_500_in_the_envelope_without_details():
    async def broken_app(scope, receive, send):
        raise RuntimeError("secret internals")

    app = UnhandledErrorMiddleware(broken_app)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        response = await client.get("/anything")

    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == "internal"
    assert "secret" not in response.text
    assert error["request_id"]


async def test_readiness_follows_the_grpc_channels(gateway):
    response = await gateway.client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["checks"] == {
        "order-service": True,
        "matching-service": True,
        "market-service": True,
        "auth-service": True,
    }


async def test_readiness_fails_while_a_service_is_unreachable(gateway_for):
    async with gateway_for(matching_target="127.0.0.1:1") as gateway:
        response = await gateway.client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["matching-service"] is False


async def test_request_metrics_are_labelled_by_route_template(client, alice):
    labels = {"route": "/api/v1/orders/{order_id}", "method": "GET", "status": "200"}
    before = REGISTRY.get_sample_value("trademesh_http_requests_total", labels) or 0.0
    placed = await client.post(
        "/api/v1/orders",
        json={"symbol": "ACME", "side": "sell", "type": "market", "quantity": 1},
        headers=alice,
    )

    await client.get(f"/api/v1/orders/{placed.json()['order_id']}", headers=alice)

    assert REGISTRY.get_sample_value("trademesh_http_requests_total", labels) == before + 1
