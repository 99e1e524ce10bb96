"""Accounts, tokens and watchlists through the gateway on the real mesh, and the ways a
token can be wrong: every one of them is refused with 401 in the error envelope."""

import asyncio
import base64
import json
import sys
import time
import uuid
from collections.abc import Iterator

import asyncpg
import httpx
import jwt
import pytest
import websockets
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from trademesh.auth.v1 import auth_pb2, auth_pb2_grpc
from trademesh_common.config import TlsSettings
from trademesh_common.rpc import create_channel
from trademesh_devstack._proc import ManagedProcess, free_port, wait_for
from trademesh_devstack.mesh import readyz_ok
from trademesh_gateway.settings import GatewaySettings

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def claims(sub: str, lifetime: int = 300, **overrides) -> dict:
    now = int(time.time())
    return {
        "iss": "trademesh-auth",
        "aud": "trademesh-api",
        "sub": sub,
        "iat": now,
        "exp": now + lifetime,
        **overrides,
    }


async def signing_key_of(mesh, kid: str) -> Ed25519PrivateKey:
    """The auth service's own private key, read from its database: lets the test sign
    tokens that are genuine in every respect but the one under test."""
    conn = await asyncpg.connect(mesh.services["auth"].env["TRADEMESH_POSTGRES_DSN"])
    try:
        pem = await conn.fetchval("SELECT private_key_pem FROM signing_keys WHERE kid = $1", kid)
    finally:
        await conn.close()
    key = load_pem_private_key(pem.encode(), None)
    assert isinstance(key, Ed25519PrivateKey)
    return key


async def refused(trader, token: str, message: str) -> None:
    response = await trader.http.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.text
    error = response.json()["error"]
    assert error["code"] == "unauthenticated"
    assert error["message"].startswith(message), error["message"]


async def test_a_new_users_journey(traders):
    alice = await traders("alice")

    me = await alice.http.get("/me")
    assert me.status_code == 200
    assert me.json()["user_id"] == alice.user_id
    assert me.json()["username"] == alice.username

    created = await alice.http.post("/watchlists", json={"name": "Tech", "symbols": ["aapl"]})
    assert created.status_code == 201, created.text
    watchlist = created.json()
    wid = watchlist["watchlist_id"]
    assert created.headers["location"] == f"/api/v1/watchlists/{wid}"
    assert watchlist["symbols"] == ["AAPL"]

    added = await alice.http.post(f"/watchlists/{wid}/symbols", json={"symbol": "MSFT"})
    assert added.json()["symbols"] == ["AAPL", "MSFT"]
    renamed = await alice.http.patch(f"/watchlists/{wid}", json={"name": "Big tech"})
    assert renamed.json()["name"] == "Big tech"
    removed = await alice.http.delete(f"/watchlists/{wid}/symbols/AAPL")
    assert removed.json()["symbols"] == ["MSFT"]
    listed = (await alice.http.get("/watchlists")).json()["watchlists"]
    assert [(w["watchlist_id"], w["name"], w["symbols"]) for w in listed] == [
        (wid, "Big tech", ["MSFT"])
    ]
    assert (await alice.http.delete(f"/watchlists/{wid}")).status_code == 204
    assert (await alice.http.get(f"/watchlists/{wid}")).status_code == 404


async def test_registration_refusals(traders):
    alice = await traders("alice")
    taken = await alice.http.post(
        "/auth/register", json={"username": alice.username.upper(), "password": "long enough"}
    )
    assert taken.status_code == 409
    assert taken.json()["error"]["code"] == "already_exists"
    weak = await alice.http.post(
        "/auth/register", json={"username": f"x{uuid.uuid4().hex[:8]}", "password": "short"}
    )
    assert weak.status_code == 400
    assert "password must be 8-128 characters" in weak.json()["error"]["message"]
    wrong = await alice.http.post(
        "/auth/login", json={"username": alice.username, "password": "not the password"}
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"]["message"] == "the request could not be authenticated"


async def test_another_users_watchlist_is_not_reachable(traders):
    alice, mallory = await traders("alice"), await traders("mallory")
    wid = (await alice.http.post("/watchlists", json={"name": "Mine"})).json()["watchlist_id"]

    attempts = [
        await mallory.http.get(f"/watchlists/{wid}"),
        await mallory.http.patch(f"/watchlists/{wid}", json={"name": "Stolen"}),
        await mallory.http.post(f"/watchlists/{wid}/symbols", json={"symbol": "KO"}),
        await mallory.http.delete(f"/watchlists/{wid}/symbols/KO"),
        await mallory.http.delete(f"/watchlists/{wid}"),
    ]
    missing = await mallory.http.get(f"/watchlists/{uuid.uuid4()}")

    assert {a.status_code for a in attempts} == {404}
    # Indistinguishable from a watchlist that does not exist.
    assert attempts[0].json()["error"]["message"] == f"watchlist {wid!r} not found"
    assert missing.json()["error"]["code"] == attempts[0].json()["error"]["code"]
    assert (await mallory.http.get("/watchlists")).json() == {"watchlists": []}
    mine = (await alice.http.get(f"/watchlists/{wid}")).json()
    assert (mine["name"], mine["symbols"]) == ("Mine", [])


async def test_an_expired_token_is_refused(mesh, traders):
    alice = await traders("alice")
    kid = jwt.get_unverified_header(alice.access_token)["kid"]
    key = await signing_key_of(mesh, kid)
    expired = jwt.encode(
        claims(alice.user_id, lifetime=-60), key, algorithm="EdDSA", headers={"kid": kid}
    )
    await refused(alice, expired, "access token has expired")


async def test_a_forged_signature_is_refused(traders):
    alice = await traders("alice")
    kid = jwt.get_unverified_header(alice.access_token)["kid"]
    forged = jwt.encode(
        claims(alice.user_id), Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": kid}
    )
    await refused(alice, forged, "access token signature is invalid")


async def test_alg_none_is_refused(traders):
    alice = await traders("alice")
    kid = jwt.get_unverified_header(alice.access_token)["kid"]
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{b64(claims(alice.user_id))}."
    await refused(alice, unsigned, "access token algorithm 'none' is not accepted")


async def test_an_unknown_kid_is_refused(traders):
    alice = await traders("alice")
    stranger = jwt.encode(
        claims(alice.user_id),
        Ed25519PrivateKey.generate(),
        algorithm="EdDSA",
        headers={"kid": uuid.uuid4().hex},
    )
    await refused(alice, stranger, "access token is signed with an unknown key")


async def test_a_token_for_another_audience_is_refused(mesh, traders):
    alice = await traders("alice")
    kid = jwt.get_unverified_header(alice.access_token)["kid"]
    key = await signing_key_of(mesh, kid)
    elsewhere = jwt.encode(
        claims(alice.user_id, aud="another-api"), key, algorithm="EdDSA", headers={"kid": kid}
    )
    await refused(alice, elsewhere, "access token is not meant for this API")


async def test_a_websocket_with_a_bad_token_is_closed_with_4401(mesh, traders):
    alice = await traders("alice")
    url = mesh.gateway_url.replace("http://", "ws://") + "/api/v1/ws"
    tampered = alice.access_token[:-4] + (
        "AAAA" if not alice.access_token.endswith("AAAA") else "BBBB"
    )
    async with websockets.connect(url, subprotocols=["bearer", tampered]) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd.code == 4401


async def test_refresh_rotates_and_reuse_revokes_the_family(traders):
    alice = await traders("alice")
    first = alice.refresh_token

    rotated = await alice.http.post("/auth/refresh", json={"refresh_token": first})
    assert rotated.status_code == 200, rotated.text
    newest = rotated.json()["refresh_token"]
    assert newest != first
    alice.use_tokens(rotated.json())
    assert (await alice.http.get("/me")).status_code == 200

    # Someone replays the spent token: refused, and the session is over for everyone.
    replay = await alice.http.post("/auth/refresh", json={"refresh_token": first})
    assert replay.status_code == 401
    after = await alice.http.post("/auth/refresh", json={"refresh_token": newest})
    assert after.status_code == 401
    assert after.json()["error"]["code"] == "unauthenticated"

    # A fresh login starts a new, working session.
    await alice.log_in()
    again = await alice.http.post("/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert again.status_code == 200


async def test_logout_ends_the_session(traders):
    alice = await traders("alice")
    token = alice.refresh_token
    assert (await alice.http.post("/auth/logout", json={"refresh_token": token})).status_code == 204
    refreshed = await alice.http.post("/auth/refresh", json={"refresh_token": token})
    assert refreshed.status_code == 401


STRICT_LIMIT = 5
# The mesh gateway's window (its default): replicas share counts only with equal windows.
WINDOW_SECONDS = GatewaySettings.model_fields["rate_limit_window_seconds"].default


@pytest.fixture(scope="module")
def strict_gateway(mesh, tmp_path_factory) -> Iterator[str]:
    """A second gateway replica, with a per-user limit low enough to reach in a test.

    It counts in the same Redis as the mesh's gateway: the limit holds across replicas.
    """
    http_port = free_port()
    env = {
        **mesh.services["gateway"].env,
        "TRADEMESH_HTTP_PORT": str(http_port),
        "TRADEMESH_GRPC_PORT": str(free_port()),
        "TRADEMESH_RATE_LIMIT_PER_USER": str(STRICT_LIMIT),
    }
    log_path = tmp_path_factory.mktemp("strict-gateway") / "gateway.log"
    process = ManagedProcess(
        "strict-gateway", [sys.executable, "-m", "trademesh_gateway"], log_path=log_path, env=env
    )
    process.start()
    url = f"http://127.0.0.1:{http_port}"
    try:
        wait_for(
            "strict gateway /readyz",
            lambda: readyz_ok(url),
            timeout=90,
            proc=process,
            logs=[log_path],
            interval=0.2,
        )
        yield url
    finally:
        process.stop()


async def test_the_per_user_rate_limit_answers_429_with_retry_after(strict_gateway, traders):
    for _ in range(3):
        alice, bob = await traders("alice"), await traders("bob")
        window = time.time() // WINDOW_SECONDS
        # Counted by the mesh's gateway, in the shared Redis...
        for _ in range(STRICT_LIMIT - 1):
            assert (await alice.http.get("/watchlists")).status_code == 200
        async with httpx.AsyncClient(base_url=strict_gateway + "/api/v1") as strict:
            headers = {"Authorization": f"Bearer {alice.access_token}"}
            # ...so the other replica allows one more request, then refuses.
            allowed = await strict.get("/watchlists", headers=headers)
            limited = await strict.get("/watchlists", headers=headers)
            bobs = await strict.get(
                "/watchlists", headers={"Authorization": f"Bearer {bob.access_token}"}
            )
        if time.time() // WINDOW_SECONDS == window:
            break  # all counted in one window (else a new window reset the count: again)
    else:
        pytest.fail("every attempt straddled a rate-limit window boundary")

    assert allowed.status_code == 200
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= WINDOW_SECONDS
    assert limited.json()["error"] == {
        "code": "resource_exhausted",
        "message": (
            f"rate limit exceeded: at most {STRICT_LIMIT} requests per {WINDOW_SECONDS}s per user"
        ),
        "request_id": limited.headers["x-request-id"],
    }
    assert bobs.status_code == 200  # another user on the same address is not affected


async def test_key_rotation_keeps_old_tokens_valid_during_the_overlap(mesh, traders):
    alice = await traders("alice")
    old_token = alice.access_token
    old_kid = jwt.get_unverified_header(old_token)["kid"]

    channel = create_channel(mesh.services["auth"].grpc_target, TlsSettings())
    try:
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        new_kid = (await stub.RotateSigningKey(auth_pb2.RotateSigningKeyRequest())).kid
    finally:
        await channel.close()
    assert new_kid != old_kid

    await alice.log_in()
    assert jwt.get_unverified_header(alice.access_token)["kid"] == new_kid
    # The gateway has not seen the new key: it fetches it on first sight.
    assert (await alice.http.get("/me")).status_code == 200
    old = await alice.http.get("/me", headers={"Authorization": f"Bearer {old_token}"})
    assert old.status_code == 200

    async with httpx.AsyncClient(base_url=mesh.gateway_url) as client:
        published = (await client.get("/.well-known/jwks.json")).json()["keys"]
    assert {old_kid, new_kid} <= {key["kid"] for key in published}
    assert all("d" not in key for key in published)
