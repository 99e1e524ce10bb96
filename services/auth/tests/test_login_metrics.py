"""Every login attempt is counted by outcome; only `error` (our failure) burns the
login-success SLO's budget."""

import uuid

import grpc
import pytest
from prometheus_client import REGISTRY

from trademesh.auth.v1 import auth_pb2, auth_pb2_grpc
from trademesh_auth.app import AuthApp
from trademesh_common.config import TlsSettings
from trademesh_common.health import Health
from trademesh_common.rpc import create_channel

from .conftest import PASSWORD
from .conftest import test_settings as settings_for

pytestmark = pytest.mark.integration

OUTCOMES = ("success", "invalid_credentials", "error")


def attempts() -> dict[str, float]:
    return {
        outcome: REGISTRY.get_sample_value(
            "trademesh_auth_login_attempts_total", {"outcome": outcome}
        )
        or 0.0
        for outcome in OUTCOMES
    }


def grown(before: dict[str, float]) -> dict[str, float]:
    return {outcome: count - before[outcome] for outcome, count in attempts().items()}


async def test_logins_are_counted_by_outcome(auth, new_user):
    user, _ = await new_user("counted")  # registers and logs in once
    before = attempts()
    await auth.Login(auth_pb2.LoginRequest(username=user.username, password=PASSWORD))
    for username, password in ((user.username, "not the password"), ("nobody-at-all", PASSWORD)):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await auth.Login(auth_pb2.LoginRequest(username=username, password=password))
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert grown(before) == {"success": 1, "invalid_credentials": 2, "error": 0}


async def test_a_login_the_service_fails_counts_as_an_error(auth_dsn):
    # A replica of its own whose database connections are gone.
    app = AuthApp(settings_for(auth_dsn), Health())
    await app.start()
    channel = create_channel(f"127.0.0.1:{app.grpc_port}", TlsSettings())
    try:
        assert app.pool is not None
        await app.pool.close()
        before = attempts()
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await auth_pb2_grpc.AuthServiceStub(channel).Login(
                auth_pb2.LoginRequest(username=f"u-{uuid.uuid4().hex[:8]}", password=PASSWORD)
            )
        assert failed.value.code() not in (grpc.StatusCode.OK, grpc.StatusCode.UNAUTHENTICATED)
        assert grown(before) == {"success": 0, "invalid_credentials": 0, "error": 1}
    finally:
        await channel.close()
        await app.stop()


async def test_a_username_no_account_can_have_is_a_wrong_username(auth):
    # NUL used to reach PostgreSQL, which refused the query: an error instead of a refusal.
    before = attempts()
    for username in ("nul\x00name", "x" * 200, "spaced name"):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await auth.Login(auth_pb2.LoginRequest(username=username, password=PASSWORD))
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert grown(before) == {"success": 0, "invalid_credentials": 3, "error": 0}
