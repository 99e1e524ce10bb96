"""The caller's watchlists (AuthService). Another user's watchlist answers 404."""

from typing import Annotated

from fastapi import Depends, FastAPI, Path, Response

from trademesh.auth.v1 import auth_pb2
from trademesh_gateway.backends import Backends
from trademesh_gateway.identity import CallerDependency
from trademesh_gateway.openapi_docs import error_responses
from trademesh_gateway.proto_mapping import timestamp_from_micros
from trademesh_gateway.routes import API_PREFIX
from trademesh_gateway.routes.params import SymbolParam
from trademesh_gateway.schemas.watchlists import (
    AddSymbolRequest,
    CreateWatchlistRequest,
    RenameWatchlistRequest,
    Watchlist,
    WatchlistList,
)

WATCHLISTS_PATH = f"{API_PREFIX}/watchlists"

WatchlistIdParam = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9-]+$",
        examples=["5b0e6e58-2f6c-4d47-8a43-0f8d3c6fa3e1"],
    ),
]


def _watchlist(watchlist: auth_pb2.Watchlist) -> Watchlist:
    return Watchlist(
        watchlist_id=watchlist.watchlist_id,
        name=watchlist.name,
        symbols=list(watchlist.symbols),
        created_at=timestamp_from_micros(watchlist.created_at_us),
        updated_at=timestamp_from_micros(watchlist.updated_at_us),
    )


def add_watchlist_routes(app: FastAPI, backends: Backends, caller: CallerDependency) -> None:
    CallerId = Annotated[str, Depends(caller)]
    one = WATCHLISTS_PATH + "/{watchlist_id}"

    @app.get(
        WATCHLISTS_PATH,
        tags=["watchlists"],
        summary="The caller's watchlists, oldest first",
        responses=error_responses(401, 429),
    )
    async def list_watchlists(user_id: CallerId) -> WatchlistList:
        reply = await backends.auth.ListWatchlists(
            auth_pb2.ListWatchlistsRequest(user_id=user_id), timeout=backends.call_timeout
        )
        return WatchlistList(watchlists=[_watchlist(w) for w in reply.watchlists])

    @app.post(
        WATCHLISTS_PATH,
        tags=["watchlists"],
        status_code=201,
        summary="Create a watchlist",
        description="At most 20 watchlists per user and 100 symbols per watchlist (409).",
        responses=error_responses(401, 409, 429),
    )
    async def create_watchlist(
        body: CreateWatchlistRequest, user_id: CallerId, response: Response
    ) -> Watchlist:
        reply = await backends.auth.CreateWatchlist(
            auth_pb2.CreateWatchlistRequest(user_id=user_id, name=body.name, symbols=body.symbols),
            timeout=backends.call_timeout,
        )
        response.headers["Location"] = f"{WATCHLISTS_PATH}/{reply.watchlist_id}"
        return _watchlist(reply)

    @app.get(
        one,
        tags=["watchlists"],
        summary="One of the caller's watchlists",
        responses=error_responses(401, 404, 429),
    )
    async def get_watchlist(watchlist_id: WatchlistIdParam, user_id: CallerId) -> Watchlist:
        reply = await backends.auth.GetWatchlist(
            auth_pb2.GetWatchlistRequest(user_id=user_id, watchlist_id=watchlist_id),
            timeout=backends.call_timeout,
        )
        return _watchlist(reply)

    @app.patch(
        one,
        tags=["watchlists"],
        summary="Rename a watchlist",
        responses=error_responses(401, 404, 409, 429),
    )
    async def rename_watchlist(
        watchlist_id: WatchlistIdParam, body: RenameWatchlistRequest, user_id: CallerId
    ) -> Watchlist:
        reply = await backends.auth.RenameWatchlist(
            auth_pb2.RenameWatchlistRequest(
                user_id=user_id, watchlist_id=watchlist_id, name=body.name
            ),
            timeout=backends.call_timeout,
        )
        return _watchlist(reply)

    @app.delete(
        one,
        tags=["watchlists"],
        status_code=204,
        summary="Delete a watchlist",
        responses=error_responses(401, 404, 429),
    )
    async def delete_watchlist(watchlist_id: WatchlistIdParam, user_id: CallerId) -> Response:
        await backends.auth.DeleteWatchlist(
            auth_pb2.DeleteWatchlistRequest(user_id=user_id, watchlist_id=watchlist_id),
            timeout=backends.call_timeout,
        )
        return Response(status_code=204)

    @app.post(
        one + "/symbols",
        tags=["watchlists"],
        summary="Add a symbol (adding one already listed changes nothing)",
        responses=error_responses(401, 404, 409, 429),
    )
    async def add_symbol(
        watchlist_id: WatchlistIdParam, body: AddSymbolRequest, user_id: CallerId
    ) -> Watchlist:
        reply = await backends.auth.AddSymbol(
            auth_pb2.WatchlistSymbolRequest(
                user_id=user_id, watchlist_id=watchlist_id, symbol=body.symbol
            ),
            timeout=backends.call_timeout,
        )
        return _watchlist(reply)

    @app.delete(
        one + "/symbols/{symbol}",
        tags=["watchlists"],
        summary="Remove a symbol",
        responses=error_responses(401, 404, 429),
    )
    async def remove_symbol(
        watchlist_id: WatchlistIdParam, symbol: SymbolParam, user_id: CallerId
    ) -> Watchlist:
        reply = await backends.auth.RemoveSymbol(
            auth_pb2.WatchlistSymbolRequest(
                user_id=user_id, watchlist_id=watchlist_id, symbol=symbol
            ),
            timeout=backends.call_timeout,
        )
        return _watchlist(reply)
