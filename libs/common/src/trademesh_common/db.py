"""PostgreSQL connection pools and a small forward-only migration runner.

Migrations are numbered SQL files (`0001_orders.sql`) shipped inside the
service's package. Each runs in its own transaction and is recorded in
`schema_migrations`; an advisory lock makes concurrent runners (several
replicas, a Helm hook job) apply each file exactly once.
"""

import logging
from collections.abc import Awaitable, Callable
from importlib import resources
from importlib.resources.abc import Traversable

import asyncpg

log = logging.getLogger(__name__)

_MIGRATION_LOCK_ID = 0x7472_6164  # "trad": any constant shared by all runners of one database


async def _keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset on release, past what asyncpg always does first.

    asyncpg rolls back a transaction left open and drops listeners by itself; its default
    reset then sends `RESET ALL; UNLISTEN *; CLOSE ALL; pg_advisory_unlock_all()`, one
    more round trip on every release. No service leaves session state on a pooled
    connection (settings, LISTEN, open cursors or session advisory locks: only
    transaction-scoped ones, which end with the transaction), so there is nothing to undo.
    """


async def create_pool(dsn: str, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, reset=_keep_session)
    assert pool is not None
    return pool


def _migration_files(package: str) -> list[Traversable]:
    folder = resources.files(package)
    return sorted(
        (f for f in folder.iterdir() if f.name.endswith(".sql") and f.name[:4].isdigit()),
        key=lambda f: f.name,
    )


async def migrate(dsn: str, package: str) -> list[str]:
    """Applies the package's pending migrations; returns the names applied."""
    applied: list[str] = []
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK_ID)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
        for migration in _migration_files(package):
            if migration.name in done:
                continue
            async with conn.transaction():
                await conn.execute(migration.read_text())
                await conn.execute(
                    "INSERT INTO schema_migrations (name) VALUES ($1)", migration.name
                )
            applied.append(migration.name)
            log.info("applied migration", extra={"migration": migration.name})
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK_ID)
        await conn.close()
    return applied


def pool_ready_check(pool: asyncpg.Pool) -> Callable[[], Awaitable[bool]]:
    """A readiness check (see health.py): the pool hands out a connection that answers."""

    async def ready() -> bool:
        async with pool.acquire() as conn:
            return await conn.fetchval("SELECT true") is True

    return ready
