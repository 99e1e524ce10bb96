"""The whole mesh in TLS mode: every hop (gRPC both ways, Kafka, Redis, PostgreSQL) with
each service's own certificate; identities enforced; rotation without a failed call."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.conftest import DEADLINE_SECONDS, Trader
from trademesh.auth.v1 import auth_pb2
from trademesh.market.v1 import market_pb2
from trademesh.matching.v1 import matching_pb2
from trademesh.news.v1 import news_pb2
from trademesh.order.v1 import order_pb2, order_pb2_grpc
from trademesh.social.v1 import social_pb2
from trademesh_common.config import TlsSettings
from trademesh_common.rpc import create_channel

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SERVICE_DESCRIPTORS = {
    module.__name__.split(".")[1]: next(iter(module.DESCRIPTOR.services_by_name.values()))
    for module in (auth_pb2, order_pb2, matching_pb2, market_pb2, social_pb2, news_pb2)
}


@asynccontextmanager
async def signed_up(mesh, name: str) -> AsyncIterator[Trader]:
    """A user of the public API (gateway -> auth over mTLS), holding a bearer token."""
    trader = Trader(mesh.gateway_url, name)
    try:
        await trader.sign_up()
        yield trader
    finally:
        await trader.close()


async def test_a_trade_crosses_every_hop_under_mutual_tls(tls_mesh):
    # gateway -> auth and order over mTLS; order -> PostgreSQL and Kafka over TLS; matching
    # consumes, snapshots to Redis and publishes over TLS; order applies the fill; market
    # turns the trade into candles; all with their own certificates.
    async with signed_up(tls_mesh, "seller") as seller, signed_up(tls_mesh, "buyer") as buyer:
        order = {"symbol": "AAPL", "type": "limit", "quantity": 1, "price": "150.00"}
        await seller.place(**order, side="sell")
        bid = await buyer.place(**order, side="buy")
        state = await buyer.wait_for_order(bid["order_id"], lambda o: o["status"] == "filled")
        assert state["status"] == "filled", state
        fills = await buyer.http.get(f"/orders/{bid['order_id']}/fills")
        assert fills.status_code == 200, fills.text
        trade = await buyer.http.get(f"/trades/{fills.json()['fills'][0]['trade_id']}")
        assert trade.status_code == 200, trade.text
        # matching -> Kafka `marketdata` -> market -> Redis/PostgreSQL, read back over mTLS.
        deadline = asyncio.get_running_loop().time() + DEADLINE_SECONDS
        while True:
            quote = await buyer.http.get("/market/AAPL/quote")
            assert quote.status_code == 200, quote.text
            if quote.json()["last"] is not None or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.1)
        assert quote.json()["last"] == "150.00", quote.json()


# One read per backing service's gRPC API and per area of the policy; each must get through.
EVERY_BACKEND = [
    ("GET", "/me", None),  # auth
    ("POST", "/watchlists", {"name": "tls"}),  # auth
    ("GET", "/watchlists", None),  # auth
    ("GET", "/orders", None),  # order
    ("GET", "/positions", None),  # order
    ("GET", "/market/AAPL/book", None),  # order (instruments) and matching
    ("GET", "/market/instruments", None),  # market
    ("GET", "/market/AAPL/depth", None),  # market
    ("GET", "/social/AAPL/posts", None),  # social
    ("POST", "/social/AAPL/posts", {"text": "mutual TLS all the way down"}),  # social
    ("GET", "/social/AAPL/sentiment", None),  # social
    ("GET", "/news", None),  # news
]


async def test_the_gateway_reaches_every_service_under_mutual_tls_and_the_policy(tls_mesh):
    async with signed_up(tls_mesh, "reader") as reader:
        for method, path, body in EVERY_BACKEND:
            response = await reader.http.request(method, path, json=body)
            assert response.status_code in (200, 201), (method, path, response.text)


def order_target(mesh) -> str:
    return f"localhost:{mesh.services['order'].grpc_port}"


def tls_of(files) -> TlsSettings:
    return TlsSettings(cert_file=files.cert, key_file=files.key, ca_file=files.ca)


async def test_a_service_may_not_call_what_the_policy_does_not_give_it(tls_mesh):
    # The social service holds a valid mesh certificate, but only the gateway may place orders.
    social = tls_mesh.certificates["social"]
    async with create_channel(order_target(tls_mesh), tls_of(social)) as channel:
        stub = order_pb2_grpc.OrderServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await stub.PlaceOrder(order_pb2.PlaceOrderRequest(), timeout=5)
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "sa/social may not call" in (denied.value.details() or "")


GRPC_SERVICES = ["auth", "order", "matching", "market", "social", "news"]


@pytest.mark.parametrize("service", GRPC_SERVICES)
async def test_every_service_refuses_a_plaintext_caller(tls_mesh, service):
    async with grpc.aio.insecure_channel(tls_mesh.services[service].grpc_target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


@pytest.mark.parametrize("service", GRPC_SERVICES)
async def test_every_service_answers_a_mesh_peer_and_only_the_gateway_calls_its_api(
    tls_mesh, service
):
    # With the market service's certificate: health is open to any mesh peer, the
    # service's own API (first method of its proto) only to the gateway.
    descriptor = SERVICE_DESCRIPTORS[service]
    method = f"/{descriptor.full_name}/{descriptor.methods[0].name}"
    caller = "social" if service == "market" else "market"
    async with create_channel(
        tls_mesh.services[service].grpc_target, tls_of(tls_mesh.certificates[caller])
    ) as channel:
        health = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=5
        )
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        call = channel.unary_unary(method, request_serializer=bytes, response_deserializer=bytes)
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await call(b"", timeout=5)
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert f"sa/{caller} may not call {method}" in (denied.value.details() or "")


async def test_rotating_every_certificate_under_steady_traffic_fails_no_request(tls_mesh):
    # Reads that cross the gateway's channel to each service in turn.
    paths = [path for method, path, _ in EVERY_BACKEND if method == "GET"]
    requests, failures = 300, []
    async with signed_up(tls_mesh, "steady") as trader:

        async def traffic() -> None:
            for i in range(requests):
                response = await trader.http.get(paths[i % len(paths)])
                if response.status_code != 200:
                    failures.append((i, response.status_code, response.text))
                await asyncio.sleep(0.01)

        async def rotate() -> None:
            for _ in range(3):
                await asyncio.sleep(0.5)
                await asyncio.to_thread(tls_mesh.rotate_certificates)

        await asyncio.gather(traffic(), rotate())
    assert failures == []
