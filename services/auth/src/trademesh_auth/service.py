"""The AuthService gRPC API: translates requests to use cases and refusals to status codes."""

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

import grpc

from trademesh.auth.v1 import auth_pb2, auth_pb2_grpc
from trademesh_auth.accounts import Accounts, User
from trademesh_auth.errors import (
    AlreadyExists,
    AuthError,
    InvalidArgument,
    LimitExceeded,
    NotFound,
    Unauthenticated,
)
from trademesh_auth.keys import KeyRing
from trademesh_auth.metrics import LOGIN_ATTEMPTS
from trademesh_auth.tokens import TokenPair, Tokens
from trademesh_auth.watchlists import Watchlist, Watchlists

_STATUS_CODES: dict[type[AuthError], grpc.StatusCode] = {
    InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    NotFound: grpc.StatusCode.NOT_FOUND,
    LimitExceeded: grpc.StatusCode.FAILED_PRECONDITION,
}


@asynccontextmanager
async def _refusals_as_status(context: grpc.aio.ServicerContext) -> AsyncIterator[None]:
    try:
        yield
    except AuthError as error:
        code = _STATUS_CODES.get(type(error), grpc.StatusCode.FAILED_PRECONDITION)
        await context.abort(code, error.reason)


def _micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _user_message(user: User) -> auth_pb2.User:
    return auth_pb2.User(
        user_id=str(user.user_id), username=user.username, created_at_us=_micros(user.created_at)
    )


def _pair_message(pair: TokenPair) -> auth_pb2.TokenPair:
    return auth_pb2.TokenPair(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
    )


def _watchlist_message(watchlist: Watchlist) -> auth_pb2.Watchlist:
    return auth_pb2.Watchlist(
        watchlist_id=str(watchlist.watchlist_id),
        name=watchlist.name,
        symbols=watchlist.symbols,
        created_at_us=_micros(watchlist.created_at),
        updated_at_us=_micros(watchlist.updated_at),
    )


def _user_id(value: str) -> uuid.UUID:
    """The gateway passes the `sub` of a token it verified; anything else is a caller bug."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidArgument("user_id must be a user id issued by this service") from None


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    def __init__(
        self, accounts: Accounts, tokens: Tokens, keys: KeyRing, watchlists: Watchlists
    ) -> None:
        self._accounts = accounts
        self._tokens = tokens
        self._keys = keys
        self._watchlists = watchlists

    async def Register(
        self, request: auth_pb2.RegisterRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.RegisterResponse:
        async with _refusals_as_status(context):
            user = await self._accounts.register(request.username, request.password)
        return auth_pb2.RegisterResponse(user=_user_message(user))

    async def Login(
        self, request: auth_pb2.LoginRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.TokenPair:
        async with _refusals_as_status(context):
            try:
                pair = await self._accounts.login(request.username, request.password)
            except Unauthenticated:
                LOGIN_ATTEMPTS.labels("invalid_credentials").inc()
                raise
            except BaseException:  # also a call cancelled at its deadline: the user got nothing
                LOGIN_ATTEMPTS.labels("error").inc()
                raise
        LOGIN_ATTEMPTS.labels("success").inc()
        return _pair_message(pair)

    async def Refresh(
        self, request: auth_pb2.RefreshRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.TokenPair:
        async with _refusals_as_status(context):
            pair = await self._tokens.refresh(request.refresh_token)
        return _pair_message(pair)

    async def Logout(
        self, request: auth_pb2.LogoutRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.LogoutResponse:
        await self._tokens.logout(request.refresh_token)
        return auth_pb2.LogoutResponse()

    async def GetJwks(
        self, request: auth_pb2.GetJwksRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.GetJwksResponse:
        return auth_pb2.GetJwksResponse(jwks_json=json.dumps(await self._keys.jwks()))

    async def RotateSigningKey(
        self, request: auth_pb2.RotateSigningKeyRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.RotateSigningKeyResponse:
        key = await self._keys.rotate()
        return auth_pb2.RotateSigningKeyResponse(kid=key.kid)

    async def GetUser(
        self, request: auth_pb2.GetUserRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.User:
        async with _refusals_as_status(context):
            user = await self._accounts.get(_user_id(request.user_id))
        return _user_message(user)

    async def ListWatchlists(
        self, request: auth_pb2.ListWatchlistsRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.ListWatchlistsResponse:
        async with _refusals_as_status(context):
            watchlists = await self._watchlists.list_all(_user_id(request.user_id))
        return auth_pb2.ListWatchlistsResponse(
            watchlists=[_watchlist_message(w) for w in watchlists]
        )

    async def CreateWatchlist(
        self, request: auth_pb2.CreateWatchlistRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.Watchlist:
        async with _refusals_as_status(context):
            watchlist = await self._watchlists.create(
                _user_id(request.user_id), request.name, list(request.symbols)
            )
        return _watchlist_message(watchlist)

    async def GetWatchlist(
        self, request: auth_pb2.GetWatchlistRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.Watchlist:
        async with _refusals_as_status(context):
            watchlist = await self._watchlists.get(_user_id(request.user_id), request.watchlist_id)
        return _watchlist_message(watchlist)

    async def RenameWatchlist(
        self, request: auth_pb2.RenameWatchlistRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.Watchlist:
        async with _refusals_as_status(context):
            watchlist = await self._watchlists.rename(
                _user_id(request.user_id), request.watchlist_id, request.name
            )
        return _watchlist_message(watchlist)

    async def DeleteWatchlist(
        self, request: auth_pb2.DeleteWatchlistRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.DeleteWatchlistResponse:
        async with _refusals_as_status(context):
            await self._watchlists.delete(_user_id(request.user_id), request.watchlist_id)
        return auth_pb2.DeleteWatchlistResponse()

    async def AddSymbol(
        self, request: auth_pb2.WatchlistSymbolRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.Watchlist:
        async with _refusals_as_status(context):
            watchlist = await self._watchlists.add_symbol(
                _user_id(request.user_id), request.watchlist_id, request.symbol
            )
        return _watchlist_message(watchlist)

    async def RemoveSymbol(
        self, request: auth_pb2.WatchlistSymbolRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.Watchlist:
        async with _refusals_as_status(context):
            watchlist = await self._watchlists.remove_symbol(
                _user_id(request.user_id), request.watchlist_id, request.symbol
            )
        return _watchlist_message(watchlist)
