"""Login, access tokens, refresh rotation and family revocation on real PostgreSQL."""

import json
import uuid

import grpc
import jwt
import pytest

from trademesh.auth.v1 import auth_pb2
from trademesh_auth.errors import InvalidArgument, NotFound
from trademesh_auth.keys import KeyRing
from trademesh_auth.settings import AuthSettings
from trademesh_auth.validation import normalize_symbol, parse_id, validate_username

PASSWORD = "correct horse battery"  # the one conftest registers users with

pytestmark = pytest.mark.integration


async def jwks_of(auth) -> dict[str, jwt.PyJWK]:
    reply = await auth.GetJwks(auth_pb2.GetJwksRequest())
    return {key["kid"]: jwt.PyJWK(key) for key in json.loads(reply.jwks_json)["keys"]}


async def verify(auth, token: str) -> dict:
    kid = jwt.get_unverified_header(token)["kid"]
    key = (await jwks_of(auth))[kid]
    return jwt.decode(
        token, key, algorithms=["EdDSA"], audience="trademesh-api", issuer="trademesh-auth"
    )


async def test_an_access_token_verifies_with_the_published_key(auth, new_user):
    user, pair = await new_user("alice")
    header = jwt.get_unverified_header(pair.access_token)
    assert header["alg"] == "EdDSA"
    claims = await verify(auth, pair.access_token)
    assert claims["sub"] == user.user_id
    assert claims["name"] == user.username
    assert claims["exp"] - claims["iat"] == pair.expires_in == 300
    assert pair.refresh_token and "." not in pair.refresh_token  # opaque, not a JWT


async def test_the_jwks_publishes_public_keys_only(auth, new_user):
    reply = await auth.GetJwks(auth_pb2.GetJwksRequest())
    for key in json.loads(reply.jwks_json)["keys"]:
        assert key["kty"] == "OKP" and key["crv"] == "Ed25519"
        assert "d" not in key  # the private part


async def test_refresh_tokens_are_stored_hashed(auth, new_user, auth_app):
    _, pair = await new_user()
    async with auth_app.pool.acquire() as conn:
        rows = await conn.fetch("SELECT token_hash FROM refresh_tokens")
    stored = {bytes(row["token_hash"]) for row in rows}
    assert pair.refresh_token.encode() not in stored
    assert len(stored) >= 1 and all(len(h) == 32 for h in stored)


async def test_wrong_password_and_unknown_user_get_the_same_answer(auth, new_user):
    user, _ = await new_user()
    answers = []
    for username, password in ((user.username, "wrong password"), ("nobody-x", PASSWORD)):
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await auth.Login(auth_pb2.LoginRequest(username=username, password=password))
        answers.append((error.value.code(), error.value.details()))
    assert (
        answers[0]
        == answers[1]
        == (
            grpc.StatusCode.UNAUTHENTICATED,
            "wrong username or password",
        )
    )


async def test_usernames_are_unique_regardless_of_case(auth, new_user):
    user, _ = await new_user()
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await auth.Register(
            auth_pb2.RegisterRequest(username=user.username.upper(), password=PASSWORD)
        )
    assert error.value.code() == grpc.StatusCode.ALREADY_EXISTS


@pytest.mark.parametrize(
    ("username", "password", "reason"),
    [
        ("ab", PASSWORD, "username must be 3-32"),
        ("bad name", PASSWORD, "username must be 3-32"),
        ("fine-name", "short", "password must be 8-128"),
        ("fine-name", "x" * 129, "password must be 8-128"),
    ],
)
async def test_bad_registrations_say_why(auth, new_user, username, password, reason):
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await auth.Register(auth_pb2.RegisterRequest(username=username, password=password))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason in error.value.details()


async def test_refresh_rotates_the_refresh_token(auth, new_user):
    user, first = await new_user()
    second = await auth.Refresh(auth_pb2.RefreshRequest(refresh_token=first.refresh_token))
    third = await auth.Refresh(auth_pb2.RefreshRequest(refresh_token=second.refresh_token))
    assert len({first.refresh_token, second.refresh_token, third.refresh_token}) == 3
    assert (await verify(auth, third.access_token))["sub"] == user.user_id


async def test_reusing_a_spent_refresh_token_revokes_its_whole_family(auth, new_user):
    _, first = await new_user()
    second = await auth.Refresh(auth_pb2.RefreshRequest(refresh_token=first.refresh_token))
    with pytest.raises(grpc.aio.AioRpcError) as reuse:
        await auth.Refresh(auth_pb2.RefreshRequest(refresh_token=first.refresh_token))
    assert reuse.value.code() == grpc.StatusCode.UNAUTHENTICATED
    # The newest token, never used, died with its family.
    with pytest.raises(grpc.aio.AioRpcError) as newest:
        await auth.Refresh(auth_pb2.RefreshRequest(refresh_token=second.refresh_token))
    assert newest.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_reuse_revokes_only_that_session(auth, new_user):
    user, first = await new_user()
    other_session = await auth.Login(
        auth_pb2.LoginRequest(username=user.username, password=PASSWORD)
    )
    await auth.Refresh(auth_pb2.RefreshRequest(refresh_token=first.refresh_token))
    with pytest.raises(grpc.aio.AioRpcError):
        await auth.Refresh(auth_pb2.RefreshRequest(refresh_token=first.refresh_token))
    assert await auth.Refresh(auth_pb2.RefreshRequest(refresh_token=other_session.refresh_token))


async def test_logout_revokes_the_family(auth, new_user):
    _, first = await new_user()
    second = await auth.Refresh(auth_pb2.RefreshRequest(refresh_token=first.refresh_token))
    await auth.Logout(auth_pb2.LogoutRequest(refresh_token=first.refresh_token))
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await auth.Refresh(auth_pb2.RefreshRequest(refresh_token=second.refresh_token))
    assert error.value.code() == grpc.StatusCode.UNAUTHENTICATED
    # Logging out twice, or with a token nobody issued, is harmless.
    await auth.Logout(auth_pb2.LogoutRequest(refresh_token=first.refresh_token))
    await auth.Logout(auth_pb2.LogoutRequest(refresh_token="never-issued"))


async def test_an_expired_refresh_token_is_refused(auth, new_user, auth_app):
    _, pair = await new_user()
    async with auth_app.pool.acquire() as conn:
        await conn.execute("UPDATE refresh_tokens SET expires_at = now() - interval '1 second'")
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await auth.Refresh(auth_pb2.RefreshRequest(refresh_token=pair.refresh_token))
    assert error.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_rotation_publishes_old_and_new_keys_during_the_overlap(auth, new_user, auth_app):
    _, before = await new_user()
    old_kid = jwt.get_unverified_header(before.access_token)["kid"]
    rotated = await auth.RotateSigningKey(auth_pb2.RotateSigningKeyRequest())
    _, after = await new_user()
    assert jwt.get_unverified_header(after.access_token)["kid"] == rotated.kid != old_kid
    published = await jwks_of(auth)
    assert {old_kid, rotated.kid} <= published.keys()
    await verify(auth, before.access_token)  # the old key's tokens still verify
    await verify(auth, after.access_token)


async def test_a_retired_key_leaves_the_jwks_after_its_grace(auth, new_user, auth_app):
    _, before = await new_user()
    old_kid = jwt.get_unverified_header(before.access_token)["kid"]
    await auth.RotateSigningKey(auth_pb2.RotateSigningKeyRequest())
    async with auth_app.pool.acquire() as conn:
        await conn.execute(
            "UPDATE signing_keys SET retired_at = now() - interval '1 day' WHERE kid = $1",
            old_kid,
        )
    assert old_kid not in await jwks_of(auth)


async def test_replicas_agree_on_the_key_ring(auth_dsn, auth_app):
    """A second replica over the same database signs with the same key, and a rotation
    by one shows in the other's JWKS."""
    other = KeyRing(auth_app.pool, 0, 900, reload_seconds=0.0)
    assert (await other.signing_key()).kid == (await auth_app.keys.signing_key()).kid
    rotated = await auth_app.keys.rotate()
    assert (await other.signing_key()).kid == rotated.kid
    assert rotated.kid in {k["kid"] for k in (await other.jwks())["keys"]}


async def test_a_key_past_its_rotation_age_is_replaced_on_next_use(auth_app):
    ring = KeyRing(auth_app.pool, rotation_seconds=3600, grace_seconds=900, reload_seconds=0.0)
    current = await ring.signing_key()
    async with auth_app.pool.acquire() as conn:
        await conn.execute(
            "UPDATE signing_keys SET created_at = now() - interval '2 hours' WHERE kid = $1",
            current.kid,
        )
    replaced = await ring.signing_key()
    assert replaced.kid != current.kid
    assert current.kid in {k["kid"] for k in (await ring.jwks())["keys"]}


def test_the_key_grace_must_cover_the_access_token_lifetime():
    with pytest.raises(ValueError, match="retired_key_grace_seconds"):
        AuthSettings(access_token_ttl_seconds=600, retired_key_grace_seconds=300)


def test_validation_rules():
    assert normalize_symbol(" aapl ") == "AAPL"
    assert normalize_symbol("BRK.B") == "BRK.B"
    for bad in ("", "A B", "$AAPL", "X" * 17):
        with pytest.raises(InvalidArgument):
            normalize_symbol(bad)
    assert validate_username("alice_1") == "alice_1"
    with pytest.raises(NotFound):
        parse_id("not-a-uuid", "watchlist")
    assert parse_id(str(uuid.UUID(int=1)), "watchlist") == uuid.UUID(int=1)
