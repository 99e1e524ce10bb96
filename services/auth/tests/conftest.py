"""Fixtures: the auth service running in-process against the devstack's real PostgreSQL,
and a gRPC stub to it."""

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from trademesh.auth.v1 import auth_pb2, auth_pb2_grpc
from trademesh_auth.app import AuthApp
from trademesh_auth.settings import AuthSettings
from trademesh_common.config import TlsSettings
from trademesh_common.health import Health
from trademesh_common.rpc import create_channel

PASSWORD = "correct horse battery"


@pytest.fixture(scope="session")
def auth_dsn(devstack: Any) -> str:
    # A database of its own per session: an attached, long-lived devstack keeps old ones.
    return devstack.create_database(f"auth_it_{uuid.uuid4().hex[:8]}")


def test_settings(dsn: str, **overrides: Any) -> AuthSettings:
    values: dict[str, Any] = {
        "postgres_dsn": dsn,
        "grpc_host": "127.0.0.1",
        "grpc_port": 0,
        # The cheapest argon2id the settings allow: the tests exercise logic, not cost.
        "argon2_time_cost": 1,
        "argon2_memory_kib": 8 * 1024,
        "key_rotation_seconds": 0,
        "key_ring_reload_seconds": 3600,
    }
    values.update(overrides)
    return AuthSettings(**values)


@pytest.fixture(scope="session")
async def auth_app(auth_dsn: str) -> AsyncIterator[AuthApp]:
    app = AuthApp(test_settings(auth_dsn), Health())
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


@pytest.fixture(scope="session")
async def auth(auth_app: AuthApp) -> AsyncIterator[auth_pb2_grpc.AuthServiceStub]:
    channel = create_channel(f"127.0.0.1:{auth_app.grpc_port}", TlsSettings())
    yield auth_pb2_grpc.AuthServiceStub(channel)
    await channel.close()


NewUser = Callable[..., Awaitable[tuple[auth_pb2.User, auth_pb2.TokenPair]]]


@pytest.fixture
def new_user(auth: auth_pb2_grpc.AuthServiceStub) -> NewUser:
    """Registers a fresh user; returns them and the tokens of their first login."""

    async def make(name: str = "user") -> tuple[auth_pb2.User, auth_pb2.TokenPair]:
        username = f"{name}-{uuid.uuid4().hex[:8]}"
        registered = await auth.Register(
            auth_pb2.RegisterRequest(username=username, password=PASSWORD)
        )
        pair = await auth.Login(auth_pb2.LoginRequest(username=username, password=PASSWORD))
        return registered.user, pair

    return make
