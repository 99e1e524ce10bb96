"""Mutual TLS and service authorization on the shared gRPC server: the negative cases.

Each test talks to a real grpc.aio server on loopback built by GrpcServer, with
certificates from the devstack's local CA. They fail if a plaintext, unknown-CA,
expired or wrong-identity caller ever gets through, or if rotation breaks calls.
"""

import asyncio
import datetime as dt
import socket
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from cryptography import x509

from trademesh_common.authz import AuthorizationPolicy
from trademesh_common.config import TlsSettings
from trademesh_common.rpc import GrpcServer, create_channel
from trademesh_devstack.pki import LeafFiles, LocalCA

PLACE_ORDER = "/trademesh.order.v1.OrderService/PlaceOrder"
GET_DEPTH = "/trademesh.matching.v1.MatchingService/GetDepth"
GET_JWKS = "/trademesh.auth.v1.AuthService/GetJwks"


def tls_of(files: LeafFiles) -> TlsSettings:
    return TlsSettings(cert_file=files.cert, key_file=files.key, ca_file=files.ca)


async def _echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    return request


@pytest.fixture
def ca(tmp_path: Path) -> LocalCA:
    return LocalCA(tmp_path / "pki").ensure()


@pytest.fixture
async def server(ca: LocalCA) -> AsyncIterator[tuple[GrpcServer, LeafFiles]]:
    files = ca.issue("order")
    running = GrpcServer("127.0.0.1", 0, tls_of(files), AuthorizationPolicy.load())
    running.server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "trademesh.order.v1.OrderService",
                {"PlaceOrder": grpc.unary_unary_rpc_method_handler(_echo)},
            ),
            grpc.method_handlers_generic_handler(
                "trademesh.auth.v1.AuthService",
                {"GetJwks": grpc.unary_unary_rpc_method_handler(_echo)},
            ),
        ]
    )
    await running.start()
    yield running, files
    await running.stop(0)


async def call(channel: grpc.aio.Channel, method: str = PLACE_ORDER) -> bytes:
    return await channel.unary_unary(method)(b"ping", timeout=5)


async def test_the_allowed_identity_gets_through(server, ca):
    running, _ = server
    async with create_channel(f"localhost:{running.port}", tls_of(ca.issue("gateway"))) as ch:
        assert await call(ch) == b"ping"


async def test_a_plaintext_client_is_refused(server):
    running, _ = server
    async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call(channel)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_a_client_without_a_certificate_is_refused(server, ca):
    running, _ = server
    credentials = grpc.ssl_channel_credentials(root_certificates=ca.cert_path.read_bytes())
    async with grpc.aio.secure_channel(f"localhost:{running.port}", credentials) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call(channel)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_a_certificate_from_another_ca_is_refused(server, tmp_path):
    running, files = server
    stranger = LocalCA(tmp_path / "other", name="someone else").ensure().issue("gateway")
    # The stranger trusts our server (so only the server's check can fail): mixed bundle.
    tls = TlsSettings(cert_file=stranger.cert, key_file=stranger.key, ca_file=files.ca)
    async with create_channel(f"localhost:{running.port}", tls) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call(channel)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_an_expired_certificate_is_refused(server, ca, tmp_path):
    running, _ = server
    expired = ca.issue(
        "gateway",
        directory=tmp_path / "expired",
        not_before=dt.datetime.now(dt.UTC) - dt.timedelta(days=2),
        lifetime=dt.timedelta(hours=1),
    )
    async with create_channel(f"localhost:{running.port}", tls_of(expired)) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call(channel)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_a_valid_certificate_with_the_wrong_identity_is_denied(server, ca):
    running, _ = server
    async with create_channel(f"localhost:{running.port}", tls_of(ca.issue("social"))) as ch:
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await call(ch)
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "sa/social may not call " + PLACE_ORDER in (denied.value.details() or "")


async def test_the_same_identity_is_allowed_one_method_and_denied_another(server, ca):
    running, _ = server
    async with create_channel(f"localhost:{running.port}", tls_of(ca.issue("market"))) as ch:
        # Any mesh peer may fetch the token keys; only the gateway may place orders.
        assert await call(ch, GET_JWKS) == b"ping"
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await call(ch, PLACE_ORDER)
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_a_method_missing_from_the_policy_is_denied_to_everyone(ca):
    files = ca.issue("order")
    policy = AuthorizationPolicy.from_mapping({"methods": {GET_DEPTH: ["*"]}})
    running = GrpcServer("127.0.0.1", 0, tls_of(files), policy)
    running.server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "trademesh.order.v1.OrderService",
                {"PlaceOrder": grpc.unary_unary_rpc_method_handler(_echo)},
            )
        ]
    )
    await running.start()
    try:
        async with create_channel(f"localhost:{running.port}", tls_of(ca.issue("gateway"))) as ch:
            with pytest.raises(grpc.aio.AioRpcError) as denied:
                await call(ch)
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "not open to any caller" in (denied.value.details() or "")
    finally:
        await running.stop(0)


def served_serial(port: int, client: LeafFiles) -> int:
    """The serial number of the certificate the server presents to a new connection."""
    context = ssl.create_default_context(cafile=str(client.ca))
    context.load_cert_chain(str(client.cert), str(client.key))
    context.set_alpn_protocols(["h2"])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


async def test_rotation_during_steady_traffic_fails_no_call(server, ca):
    running, server_files = server
    client_files = ca.issue("gateway")
    calls, rotations = 600, 5
    failures: list[BaseException] = []
    async with create_channel(f"localhost:{running.port}", tls_of(client_files)) as channel:

        async def traffic() -> int:
            done = 0
            for _ in range(calls):
                try:
                    await call(channel)
                    done += 1
                except grpc.aio.AioRpcError as exc:
                    failures.append(exc)
                await asyncio.sleep(0.002)
            return done

        async def rotate() -> None:
            for _ in range(rotations):
                await asyncio.sleep(0.15)
                await asyncio.to_thread(ca.issue, "order", directory=server_files.directory)
                await asyncio.to_thread(ca.issue, "gateway", directory=client_files.directory)

        done, _ = await asyncio.gather(traffic(), rotate())
    assert failures == []
    assert done == calls
    # New connections get the certificate issued last, without a restart.
    newest = x509.load_pem_x509_certificate(server_files.cert.read_bytes()).serial_number
    assert await asyncio.to_thread(served_serial, running.port, client_files) == newest
