"""Watchlists through the gRPC API on real PostgreSQL: CRUD, ownership and limits."""

import uuid

import grpc
import pytest

from trademesh.auth.v1 import auth_pb2
from trademesh_auth.watchlists import MAX_SYMBOLS_PER_WATCHLIST, MAX_WATCHLISTS_PER_USER

pytestmark = pytest.mark.integration


async def refused(call, request) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await call(request)
    return error.value


async def test_create_rename_add_remove_delete(auth, new_user):
    user, _ = await new_user()
    uid = user.user_id
    created = await auth.CreateWatchlist(
        auth_pb2.CreateWatchlistRequest(user_id=uid, name=" Tech ", symbols=["msft", "AAPL"])
    )
    assert (created.name, list(created.symbols)) == ("Tech", ["MSFT", "AAPL"])
    wid = created.watchlist_id
    renamed = await auth.RenameWatchlist(
        auth_pb2.RenameWatchlistRequest(user_id=uid, watchlist_id=wid, name="Big tech")
    )
    assert renamed.name == "Big tech"
    added = await auth.AddSymbol(
        auth_pb2.WatchlistSymbolRequest(user_id=uid, watchlist_id=wid, symbol="nvda")
    )
    again = await auth.AddSymbol(
        auth_pb2.WatchlistSymbolRequest(user_id=uid, watchlist_id=wid, symbol="NVDA")
    )
    assert list(added.symbols) == list(again.symbols) == ["MSFT", "AAPL", "NVDA"]
    removed = await auth.RemoveSymbol(
        auth_pb2.WatchlistSymbolRequest(user_id=uid, watchlist_id=wid, symbol="MSFT")
    )
    assert list(removed.symbols) == ["AAPL", "NVDA"]
    listed = await auth.ListWatchlists(auth_pb2.ListWatchlistsRequest(user_id=uid))
    assert [(w.watchlist_id, list(w.symbols)) for w in listed.watchlists] == [
        (wid, ["AAPL", "NVDA"])
    ]
    await auth.DeleteWatchlist(auth_pb2.DeleteWatchlistRequest(user_id=uid, watchlist_id=wid))
    error = await refused(
        auth.GetWatchlist, auth_pb2.GetWatchlistRequest(user_id=uid, watchlist_id=wid)
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND


async def test_another_users_watchlist_looks_like_it_does_not_exist(auth, new_user):
    alice, _ = await new_user("alice")
    mallory, _ = await new_user("mallory")
    wid = (
        await auth.CreateWatchlist(
            auth_pb2.CreateWatchlistRequest(user_id=alice.user_id, name="Mine")
        )
    ).watchlist_id
    missing = str(uuid.uuid4())
    for target in (wid, missing):
        answers = [
            await refused(
                auth.GetWatchlist,
                auth_pb2.GetWatchlistRequest(user_id=mallory.user_id, watchlist_id=target),
            ),
            await refused(
                auth.RenameWatchlist,
                auth_pb2.RenameWatchlistRequest(
                    user_id=mallory.user_id, watchlist_id=target, name="x"
                ),
            ),
            await refused(
                auth.AddSymbol,
                auth_pb2.WatchlistSymbolRequest(
                    user_id=mallory.user_id, watchlist_id=target, symbol="AAPL"
                ),
            ),
            await refused(
                auth.DeleteWatchlist,
                auth_pb2.DeleteWatchlistRequest(user_id=mallory.user_id, watchlist_id=target),
            ),
        ]
        assert {a.code() for a in answers} == {grpc.StatusCode.NOT_FOUND}
        assert {a.details() for a in answers} == {f"watchlist {target!r} not found"}
    # Alice's list is untouched.
    still = await auth.GetWatchlist(
        auth_pb2.GetWatchlistRequest(user_id=alice.user_id, watchlist_id=wid)
    )
    assert still.name == "Mine"


async def test_names_are_unique_per_user_and_bad_input_says_why(auth, new_user):
    user, _ = await new_user()
    other, _ = await new_user()
    await auth.CreateWatchlist(auth_pb2.CreateWatchlistRequest(user_id=user.user_id, name="A"))
    await auth.CreateWatchlist(auth_pb2.CreateWatchlistRequest(user_id=other.user_id, name="A"))
    duplicate = await refused(
        auth.CreateWatchlist, auth_pb2.CreateWatchlistRequest(user_id=user.user_id, name="a")
    )
    assert duplicate.code() == grpc.StatusCode.ALREADY_EXISTS
    for request in (
        auth_pb2.CreateWatchlistRequest(user_id=user.user_id, name=""),
        auth_pb2.CreateWatchlistRequest(user_id=user.user_id, name="x" * 65),
        auth_pb2.CreateWatchlistRequest(user_id=user.user_id, name="ok", symbols=["$$$"]),
        auth_pb2.CreateWatchlistRequest(user_id="not-a-user", name="ok"),
    ):
        error = await refused(auth.CreateWatchlist, request)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, request


async def test_limits_on_watchlists_and_symbols(auth, new_user):
    user, _ = await new_user()
    uid = user.user_id
    for n in range(MAX_WATCHLISTS_PER_USER):
        await auth.CreateWatchlist(auth_pb2.CreateWatchlistRequest(user_id=uid, name=f"w{n}"))
    too_many = await refused(
        auth.CreateWatchlist, auth_pb2.CreateWatchlistRequest(user_id=uid, name="one more")
    )
    assert too_many.code() == grpc.StatusCode.FAILED_PRECONDITION
    full_symbols = [f"S{n}" for n in range(MAX_SYMBOLS_PER_WATCHLIST)]
    other, _ = await new_user()
    full = await auth.CreateWatchlist(
        auth_pb2.CreateWatchlistRequest(user_id=other.user_id, name="full", symbols=full_symbols)
    )
    error = await refused(
        auth.AddSymbol,
        auth_pb2.WatchlistSymbolRequest(
            user_id=other.user_id, watchlist_id=full.watchlist_id, symbol="EXTRA"
        ),
    )
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "at most 100 symbols" in error.details()


async def test_removing_a_symbol_not_listed_is_not_found(auth, new_user):
    user, _ = await new_user()
    wid = (
        await auth.CreateWatchlist(auth_pb2.CreateWatchlistRequest(user_id=user.user_id, name="x"))
    ).watchlist_id
    error = await refused(
        auth.RemoveSymbol,
        auth_pb2.WatchlistSymbolRequest(user_id=user.user_id, watchlist_id=wid, symbol="KO"),
    )
    assert (error.code(), error.details()) == (
        grpc.StatusCode.NOT_FOUND,
        "KO is not in this watchlist",
    )
