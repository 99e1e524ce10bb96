"""Registration, login, token refresh and logout (AuthService), the JWKS, and `/me`.

Tokens are issued by the auth service; the gateway verifies access tokens itself
(see access_tokens.py) and serves the JWKS it verifies with.
"""

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Response

from trademesh.auth.v1 import auth_pb2
from trademesh_gateway.backends import Backends
from trademesh_gateway.identity import CallerDependency
from trademesh_gateway.jwks import JwksCache
from trademesh_gateway.openapi_docs import error_responses
from trademesh_gateway.proto_mapping import timestamp_from_micros
from trademesh_gateway.routes import API_PREFIX
from trademesh_gateway.schemas.auth import (
    JwksDocument,
    LoginRequest,
    LogoutRequest,
    RefreshRequest,
    RegisterRequest,
    TokenResponse,
    User,
)

AUTH_PATH = f"{API_PREFIX}/auth"
JWKS_PATH = "/.well-known/jwks.json"
# Caches may keep the JWKS briefly; a rotated-in key is published before it signs.
_JWKS_CACHE_CONTROL = "public, max-age=60"


def _user(user: auth_pb2.User) -> User:
    return User(
        user_id=user.user_id,
        username=user.username,
        created_at=timestamp_from_micros(user.created_at_us),
    )


def _tokens(pair: auth_pb2.TokenPair) -> TokenResponse:
    return TokenResponse(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
    )


def add_auth_routes(
    app: FastAPI, backends: Backends, jwks: JwksCache, caller: CallerDependency
) -> None:
    CallerId = Annotated[str, Depends(caller)]

    @app.post(
        AUTH_PATH + "/register",
        tags=["auth"],
        status_code=201,
        summary="Create an account",
        responses=error_responses(409, 429),
    )
    async def register(body: RegisterRequest) -> User:
        reply = await backends.auth.Register(
            auth_pb2.RegisterRequest(username=body.username, password=body.password),
            timeout=backends.call_timeout,
        )
        return _user(reply.user)

    @app.post(
        AUTH_PATH + "/login",
        tags=["auth"],
        summary="Log in: an access token and a refresh token",
        responses=error_responses(401, 429),
    )
    async def login(body: LoginRequest) -> TokenResponse:
        reply = await backends.auth.Login(
            auth_pb2.LoginRequest(username=body.username, password=body.password),
            timeout=backends.call_timeout,
        )
        return _tokens(reply)

    @app.post(
        AUTH_PATH + "/refresh",
        tags=["auth"],
        summary="Trade a refresh token for a new pair",
        description="The refresh token is spent. Presenting a spent one again revokes the "
        "whole session: every refresh token descended from the same login stops working.",
        responses=error_responses(401, 429),
    )
    async def refresh(body: RefreshRequest) -> TokenResponse:
        reply = await backends.auth.Refresh(
            auth_pb2.RefreshRequest(refresh_token=body.refresh_token),
            timeout=backends.call_timeout,
        )
        return _tokens(reply)

    @app.post(
        AUTH_PATH + "/logout",
        tags=["auth"],
        status_code=204,
        summary="End the session of a refresh token",
        description="Its refresh tokens stop working at once; access tokens already issued "
        "stay valid until they expire (minutes).",
        responses=error_responses(429),
    )
    async def logout(body: LogoutRequest) -> Response:
        await backends.auth.Logout(
            auth_pb2.LogoutRequest(refresh_token=body.refresh_token),
            timeout=backends.call_timeout,
        )
        return Response(status_code=204)

    async def serve_jwks(response: Response) -> dict[str, Any]:
        response.headers["Cache-Control"] = _JWKS_CACHE_CONTROL
        return await jwks.ensure_loaded()

    app.get(
        API_PREFIX + JWKS_PATH,
        tags=["auth"],
        summary="The public keys access tokens are signed with (JWKS, RFC 7517)",
        description=f"Also served at `{JWKS_PATH}`, where JWT libraries look for it.",
        response_model=JwksDocument,
        response_model_exclude_none=True,
        responses=error_responses(),
    )(serve_jwks)
    app.get(JWKS_PATH, include_in_schema=False)(serve_jwks)

    @app.get(
        API_PREFIX + "/me",
        tags=["auth"],
        summary="The caller's account",
        responses=error_responses(401, 429),
    )
    async def me(user_id: CallerId) -> User:
        reply = await backends.auth.GetUser(
            auth_pb2.GetUserRequest(user_id=user_id), timeout=backends.call_timeout
        )
        return _user(reply)
