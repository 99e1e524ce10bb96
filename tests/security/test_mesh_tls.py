"""The whole mesh in TLS mode: every hop (gRPC both ways, Kafka, Redis, PostgreSQL) with
each service's own certificate; identities enforced; rotation without a failed call."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import grpc
import pytest

from tests.conftest import DEADLINE_SECONDS, Trader
from trademesh.order.v1 import order_pb2, order_pb2_grpc
from trademesh_common.config import TlsSettings
from trademesh_common.rpc import create_channel

pytestmark = [pytest.mark.integration, pytest.mark.slow]


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


async def test_the_order_service_refuses_a_plaintext_caller(tls_mesh):
    async with grpc.aio.insecure_channel(f"127.0.0.1:{tls_mesh.services['order'].grpc_port}") as ch:
        stub = order_pb2_grpc.OrderServiceStub(ch)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.GetOrder(order_pb2.GetOrderRequest(), timeout=5)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


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
