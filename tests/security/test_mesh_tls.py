"""The whole mesh in TLS mode: every hop (gRPC both ways, Kafka, Redis, PostgreSQL) with
each service's own certificate; identities enforced; rotation without a failed call."""

import asyncio
import uuid

import grpc
import httpx
import pytest

from trademesh.order.v1 import order_pb2, order_pb2_grpc
from trademesh_common.config import TlsSettings
from trademesh_common.rpc import create_channel

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def user_client(mesh) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=mesh.gateway_url + "/api/v1",
        headers={"X-Trademesh-User": f"tls-{uuid.uuid4().hex[:8]}"},
        timeout=10,
    )


async def test_a_trade_crosses_every_hop_under_mutual_tls(tls_mesh):
    # gateway -> order over mTLS; order -> PostgreSQL and Kafka over TLS; matching consumes,
    # snapshots to Redis and publishes over TLS; order applies the fill; all with own certs.
    async with user_client(tls_mesh) as seller, user_client(tls_mesh) as buyer:
        order = {"symbol": "AAPL", "type": "limit", "quantity": 1, "price": "150.00"}
        ask = await seller.post("/orders", json={**order, "side": "sell"})
        assert ask.status_code == 202, ask.text
        bid = await buyer.post("/orders", json={**order, "side": "buy"})
        assert bid.status_code == 202, bid.text
        order_id = bid.json()["order_id"]
        for _ in range(400):
            state = (await buyer.get(f"/orders/{order_id}")).json()
            if state["status"] == "filled":
                break
            await asyncio.sleep(0.05)
        assert state["status"] == "filled", state


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
    requests, failures = 300, []
    async with user_client(tls_mesh) as client:

        async def traffic() -> None:
            for i in range(requests):
                response = await client.get("/orders", params={"limit": 5})
                if response.status_code != 200:
                    failures.append((i, response.status_code, response.text))
                await asyncio.sleep(0.01)

        async def rotate() -> None:
            for _ in range(3):
                await asyncio.sleep(0.5)
                await asyncio.to_thread(tls_mesh.rotate_certificates)

        await asyncio.gather(traffic(), rotate())
    assert failures == []
