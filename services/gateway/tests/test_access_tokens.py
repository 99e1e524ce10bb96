"""Bearer tokens are verified by the gateway itself, with keys from the cached JWKS."""

import asyncio
import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key

from trademesh_gateway.access_tokens import AccessTokenVerifier, InvalidToken
from trademesh_gateway.jwks import JwksCache, JwksFetcher

ISSUER, AUDIENCE = "trademesh-auth", "trademesh-api"


def error_of(response) -> dict:
    return response.json()["error"]


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def me(client, token: str):
    return await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})


async def test_a_valid_token_identifies_the_caller(client, mint, fakes):
    response = await me(client, mint.token("alice"))

    assert response.status_code == 200
    assert response.json()["user_id"] == "alice"
    assert fakes.behaviour.calls("GetUser")[-1].user_id == "alice"


async def refused(client, token: str, message: str) -> None:
    response = await me(client, token)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    error = error_of(response)
    assert error["code"] == "unauthenticated"
    assert error["message"].startswith(message), error["message"]


async def test_an_expired_token_is_refused(client, mint):
    await refused(client, mint.token(lifetime=-60), "access token has expired")


async def test_a_forged_signature_is_refused(client, mint):
    forger = type(mint)(kid=mint.kid)  # another key claiming to be the published one
    await refused(client, forger.token("alice"), "access token signature is invalid")


async def test_a_tampered_payload_is_refused(client, mint):
    header, _, signature = mint.token("alice").split(".")
    payload = b64(
        {
            "iss": "trademesh-auth",
            "aud": "trademesh-api",
            "sub": "admin",
            "iat": int(time.time()),
            "exp": int(time.time()) + 300,
        }
    )
    await refused(client, f"{header}.{payload}.{signature}", "access token signature is invalid")


async def test_alg_none_is_refused(client, mint):
    now = int(time.time())
    header = b64({"alg": "none", "kid": mint.kid, "typ": "JWT"})
    payload = b64(
        {
            "iss": "trademesh-auth",
            "aud": "trademesh-api",
            "sub": "alice",
            "iat": now,
            "exp": now + 300,
        }
    )
    await refused(client, f"{header}.{payload}.", "access token algorithm 'none' is not accepted")


async def test_hmac_signed_with_the_public_key_is_refused(client, mint):
    # The classic confusion attack: HS256 keyed with the published (public) key. PyJWT will
    # not make such a token, so it is put together by hand.
    now = int(time.time())
    header = b64({"alg": "HS256", "kid": mint.kid, "typ": "JWT"})
    payload = b64(
        {
            "iss": "trademesh-auth",
            "aud": "trademesh-api",
            "sub": "alice",
            "iat": now,
            "exp": now + 300,
        }
    )
    secret = json.dumps(mint.jwk()).encode()
    mac = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    signature = base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    await refused(client, f"{header}.{payload}.{signature}", "access token algorithm 'HS256'")


async def test_an_algorithm_other_than_the_keys_is_refused(client, mint):
    ec_key = generate_private_key(SECP256R1())
    now = int(time.time())
    token = jwt.encode(
        {
            "iss": "trademesh-auth",
            "aud": "trademesh-api",
            "sub": "alice",
            "iat": now,
            "exp": now + 300,
        },
        ec_key,
        algorithm="ES256",
        headers={"kid": mint.kid},
    )
    await refused(client, token, "access token algorithm does not match its key")


async def test_an_unknown_kid_is_refused(client, mint):
    stranger = type(mint)(published=False)
    await refused(client, stranger.token("alice"), "access token is signed with an unknown key")


async def test_a_token_without_kid_is_refused(client, mint):
    token = jwt.encode(
        {"sub": "alice", "exp": int(time.time()) + 60}, mint.private_key, algorithm="EdDSA"
    )
    await refused(client, token, "access token names no signing key (kid)")


async def test_wrong_issuer_or_audience_is_refused(client, mint):
    await refused(client, mint.token(iss="someone-else"), "access token is from an unknown issuer")
    await refused(client, mint.token(aud="another-api"), "access token is not meant for this API")


async def test_a_token_without_expiry_is_refused(client, mint):
    now = int(time.time())
    token = jwt.encode(
        {"iss": "trademesh-auth", "aud": "trademesh-api", "sub": "alice", "iat": now},
        mint.private_key,
        algorithm="EdDSA",
        headers={"kid": mint.kid},
    )
    await refused(client, token, "access token lacks the 'exp' claim")


async def test_a_basic_auth_header_is_not_a_token(client):
    response = await client.get("/api/v1/me", headers={"Authorization": "Basic YWxpY2U6cHc="})
    assert response.status_code == 401
    assert error_of(response)["message"].startswith("authentication required")


async def test_verification_needs_no_call_to_auth_per_request(client, mint, fakes):
    token = mint.token("alice")
    for _ in range(5):
        assert (await me(client, token)).status_code == 200
    # One fetch when the app started; none per request.
    assert len(fakes.behaviour.calls("GetJwks")) == 1


async def test_a_rotated_in_key_is_fetched_on_first_sight(client, mint, fakes):
    new_key = type(mint)()
    fakes.behaviour.signing_keys.append(new_key)

    assert (await me(client, new_key.token("alice"))).status_code == 200
    assert (await me(client, mint.token("alice"))).status_code == 200  # old key still good
    assert len(fakes.behaviour.calls("GetJwks")) == 2


async def test_unknown_kids_cannot_make_the_gateway_hammer_auth(client, fakes, mint):
    strangers = [type(mint)(published=False).token("alice") for _ in range(20)]

    responses = await asyncio.gather(*(me(client, token) for token in strangers))

    assert {response.status_code for response in responses} == {401}
    # The start-up fetch, then one early refetch shared by every unknown-kid request.
    assert len(fakes.behaviour.calls("GetJwks")) == 2


async def test_the_jwks_is_served_at_both_addresses_with_public_keys_only(client, mint):
    for path in ("/api/v1/.well-known/jwks.json", "/.well-known/jwks.json"):
        response = await client.get(path)
        assert response.status_code == 200
        keys = response.json()["keys"]
        assert [key["kid"] for key in keys] == [mint.kid]
        assert all("d" not in key for key in keys)


async def test_the_cache_keeps_its_keys_when_auth_is_unreachable(mint):
    answers = [json.dumps({"keys": [mint.jwk()]})]

    async def fetch() -> str:
        if not answers:
            raise ConnectionError("auth is down")
        return answers.pop()

    now = [0.0]
    cache = JwksCache(fetch, refresh_seconds=1000, min_refetch_seconds=1, clock=lambda: now[0])
    assert await cache.key(mint.kid) is not None
    now[0] = 5.0
    await cache.refresh()  # fails
    assert await cache.key(mint.kid) is not None
    assert cache.fetches == 2
    await cache.close()


def static_jwks(*mints) -> JwksFetcher:
    published = list(mints)

    async def fetch() -> str:
        return json.dumps({"keys": [m.jwk() for m in published]})

    fetch.published = published  # type: ignore[attr-defined]
    return fetch


async def test_a_remembered_token_still_expires(mint):
    verifier = AccessTokenVerifier(JwksCache(static_jwks(mint), 300, 0), ISSUER, AUDIENCE, 0)
    token = mint.token("alice", lifetime=1)
    assert (await verifier.verify(token)).user_id == "alice"
    assert (await verifier.verify(token)).user_id == "alice"  # remembered
    await asyncio.sleep(2.1)  # whole seconds in `exp`: past it by now
    with pytest.raises(InvalidToken, match="expired"):
        await verifier.verify(token)


async def test_withdrawing_a_key_forgets_what_it_verified(mint):
    fetch = static_jwks(mint)
    cache = JwksCache(fetch, 300, 0)
    verifier = AccessTokenVerifier(cache, ISSUER, AUDIENCE, 0)
    token = mint.token("alice")
    await verifier.verify(token)

    fetch.published.clear()
    await cache.refresh()

    with pytest.raises(InvalidToken, match="unknown key"):
        await verifier.verify(token)
