"""Watchlists: named lists of symbols, private to their owner.

Every query filters by owner, so another user's watchlist is indistinguishable from
one that does not exist (NotFound either way).
"""

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from trademesh_auth.errors import AlreadyExists, LimitExceeded, NotFound
from trademesh_auth.validation import normalize_symbol, parse_id, validate_watchlist_name

MAX_WATCHLISTS_PER_USER = 20
MAX_SYMBOLS_PER_WATCHLIST = 100


@dataclass(frozen=True, slots=True)
class Watchlist:
    watchlist_id: uuid.UUID
    name: str
    symbols: list[str]
    created_at: datetime
    updated_at: datetime


async def _load(conn: asyncpg.Connection, user_id: uuid.UUID, watchlist_id: str) -> Watchlist:
    wid = parse_id(watchlist_id, "watchlist")
    row = await conn.fetchrow(
        "SELECT watchlist_id, name, created_at, updated_at FROM watchlists"
        " WHERE watchlist_id = $1 AND user_id = $2",
        wid,
        user_id,
    )
    if row is None:
        raise NotFound(f"watchlist {watchlist_id[:64]!r} not found")
    symbols = await conn.fetch(
        "SELECT symbol FROM watchlist_symbols WHERE watchlist_id = $1 ORDER BY added_at, symbol",
        wid,
    )
    return Watchlist(symbols=[r["symbol"] for r in symbols], **dict(row))


async def _lock_owned(conn: asyncpg.Connection, user_id: uuid.UUID, watchlist_id: str) -> None:
    """Locks the watchlist row (serialising changes to it) or raises NotFound."""
    found = await conn.fetchval(
        "SELECT true FROM watchlists WHERE watchlist_id = $1 AND user_id = $2 FOR UPDATE",
        parse_id(watchlist_id, "watchlist"),
        user_id,
    )
    if not found:
        raise NotFound(f"watchlist {watchlist_id[:64]!r} not found")


async def _touch(conn: asyncpg.Connection, watchlist_id: str) -> None:
    await conn.execute(
        "UPDATE watchlists SET updated_at = now() WHERE watchlist_id = $1", uuid.UUID(watchlist_id)
    )


class Watchlists:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def list_all(self, user_id: uuid.UUID) -> list[Watchlist]:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT w.watchlist_id, w.name, w.created_at, w.updated_at,"
                " coalesce(array_agg(s.symbol ORDER BY s.added_at, s.symbol)"
                "   FILTER (WHERE s.symbol IS NOT NULL), '{}') AS symbols"
                " FROM watchlists w LEFT JOIN watchlist_symbols s USING (watchlist_id)"
                " WHERE w.user_id = $1 GROUP BY w.watchlist_id ORDER BY w.created_at",
                user_id,
            )
        return [Watchlist(**dict(row)) for row in rows]

    async def get(self, user_id: uuid.UUID, watchlist_id: str) -> Watchlist:
        async with self._pool.acquire() as conn:
            return await _load(conn, user_id, watchlist_id)

    async def create(self, user_id: uuid.UUID, name: str, symbols: list[str]) -> Watchlist:
        name = validate_watchlist_name(name)
        normalized = list(dict.fromkeys(normalize_symbol(s) for s in symbols))
        if len(normalized) > MAX_SYMBOLS_PER_WATCHLIST:
            raise LimitExceeded(f"a watchlist holds at most {MAX_SYMBOLS_PER_WATCHLIST} symbols")
        watchlist_id = uuid.uuid4()
        async with self._pool.acquire() as conn, conn.transaction():
            # Serialises one user's creations so the count check cannot be raced past.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", str(user_id))
            count = await conn.fetchval(
                "SELECT count(*) FROM watchlists WHERE user_id = $1", user_id
            )
            if count >= MAX_WATCHLISTS_PER_USER:
                raise LimitExceeded(f"a user has at most {MAX_WATCHLISTS_PER_USER} watchlists")
            try:
                async with conn.transaction():
                    await conn.execute(
                        "INSERT INTO watchlists (watchlist_id, user_id, name) VALUES ($1, $2, $3)",
                        watchlist_id,
                        user_id,
                        name,
                    )
            except asyncpg.UniqueViolationError:
                raise AlreadyExists(f"a watchlist named {name!r} already exists") from None
            for symbol in normalized:
                await conn.execute(
                    "INSERT INTO watchlist_symbols (watchlist_id, symbol) VALUES ($1, $2)",
                    watchlist_id,
                    symbol,
                )
            return await _load(conn, user_id, str(watchlist_id))

    async def rename(self, user_id: uuid.UUID, watchlist_id: str, name: str) -> Watchlist:
        name = validate_watchlist_name(name)
        async with self._pool.acquire() as conn, conn.transaction():
            await _lock_owned(conn, user_id, watchlist_id)
            try:
                async with conn.transaction():
                    await conn.execute(
                        "UPDATE watchlists SET name = $2, updated_at = now()"
                        " WHERE watchlist_id = $1",
                        uuid.UUID(watchlist_id),
                        name,
                    )
            except asyncpg.UniqueViolationError:
                raise AlreadyExists(f"a watchlist named {name!r} already exists") from None
            return await _load(conn, user_id, watchlist_id)

    async def delete(self, user_id: uuid.UUID, watchlist_id: str) -> None:
        async with self._pool.acquire() as conn:
            deleted = await conn.fetchval(
                "DELETE FROM watchlists WHERE watchlist_id = $1 AND user_id = $2 RETURNING true",
                parse_id(watchlist_id, "watchlist"),
                user_id,
            )
        if not deleted:
            raise NotFound(f"watchlist {watchlist_id[:64]!r} not found")

    async def add_symbol(self, user_id: uuid.UUID, watchlist_id: str, symbol: str) -> Watchlist:
        """Adding a symbol already listed changes nothing (so a retry is harmless)."""
        symbol = normalize_symbol(symbol)
        async with self._pool.acquire() as conn, conn.transaction():
            await _lock_owned(conn, user_id, watchlist_id)
            listed = await conn.fetch(
                "SELECT symbol FROM watchlist_symbols WHERE watchlist_id = $1",
                uuid.UUID(watchlist_id),
            )
            if symbol not in {r["symbol"] for r in listed}:
                if len(listed) >= MAX_SYMBOLS_PER_WATCHLIST:
                    raise LimitExceeded(
                        f"a watchlist holds at most {MAX_SYMBOLS_PER_WATCHLIST} symbols"
                    )
                await conn.execute(
                    "INSERT INTO watchlist_symbols (watchlist_id, symbol) VALUES ($1, $2)",
                    uuid.UUID(watchlist_id),
                    symbol,
                )
                await _touch(conn, watchlist_id)
            return await _load(conn, user_id, watchlist_id)

    async def remove_symbol(self, user_id: uuid.UUID, watchlist_id: str, symbol: str) -> Watchlist:
        symbol = normalize_symbol(symbol)
        async with self._pool.acquire() as conn, conn.transaction():
            await _lock_owned(conn, user_id, watchlist_id)
            removed = await conn.fetchval(
                "DELETE FROM watchlist_symbols WHERE watchlist_id = $1 AND symbol = $2"
                " RETURNING true",
                uuid.UUID(watchlist_id),
                symbol,
            )
            if not removed:
                raise NotFound(f"{symbol} is not in this watchlist")
            await _touch(conn, watchlist_id)
            return await _load(conn, user_id, watchlist_id)
