"""The auth service's parts wired together: database, key ring, gRPC server.

`AuthApp` starts and stops them in order; `__main__` runs it inside the shared
ServiceRuntime, and the tests run it in-process.
"""

import asyncio
import contextlib
import logging

import asyncpg

from trademesh.auth.v1 import auth_pb2_grpc
from trademesh_auth.accounts import Accounts
from trademesh_auth.keys import KeyRing
from trademesh_auth.passwords import Passwords
from trademesh_auth.service import AuthServicer
from trademesh_auth.settings import AuthSettings
from trademesh_auth.tokens import TokenPolicy, Tokens
from trademesh_auth.watchlists import Watchlists
from trademesh_common.db import create_pool, migrate, pool_ready_check
from trademesh_common.health import Health
from trademesh_common.rpc import GrpcServer

log = logging.getLogger(__name__)

MIGRATIONS_PACKAGE = "trademesh_auth.migrations"
GRPC_STOP_GRACE_SECONDS = 5.0


class AuthApp:
    def __init__(self, settings: AuthSettings, health: Health) -> None:
        self._settings = settings
        self._health = health
        self.pool: asyncpg.Pool | None = None
        self._grpc: GrpcServer | None = None
        self._rotation_task: asyncio.Task[None] | None = None
        self.keys: KeyRing | None = None
        self.tokens: Tokens | None = None

    @property
    def grpc_port(self) -> int:
        assert self._grpc is not None, "start() first"
        return self._grpc.port

    async def start(self) -> None:
        settings = self._settings
        applied = await migrate(settings.postgres_dsn, MIGRATIONS_PACKAGE)
        log.info("database migrated", extra={"applied": applied})
        self.pool = pool = await create_pool(settings.postgres_dsn)
        self.keys = keys = KeyRing(
            pool,
            settings.key_rotation_seconds,
            settings.retired_key_grace_seconds,
            settings.key_ring_reload_seconds,
        )
        await keys.signing_key()  # the first replica up makes the first key
        self.tokens = tokens = Tokens(
            pool,
            keys,
            TokenPolicy(
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
                access_ttl_seconds=settings.access_token_ttl_seconds,
                refresh_ttl_seconds=settings.refresh_token_ttl_seconds,
            ),
        )
        passwords = Passwords(
            settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism
        )
        servicer = AuthServicer(Accounts(pool, passwords, tokens), tokens, keys, Watchlists(pool))
        self._grpc = GrpcServer(settings.grpc_host, settings.grpc_port, settings.tls)
        auth_pb2_grpc.add_AuthServiceServicer_to_server(servicer, self._grpc.server)
        await self._grpc.start()
        if settings.key_rotation_seconds:
            self._rotation_task = asyncio.create_task(self._rotate_when_due(keys))

        self._health.add_check("postgres", pool_ready_check(pool))
        log.info("auth service ready", extra={"grpc_port": self.grpc_port})

    async def _rotate_when_due(self, keys: KeyRing) -> None:
        """Rotation happens on the next signing anyway; this also covers an idle service,
        so the JWKS never advertises a key past its rotation age."""
        interval = min(60.0, self._settings.key_rotation_seconds / 4)
        while True:
            await asyncio.sleep(interval)
            try:
                await keys.signing_key()
            except (OSError, asyncpg.PostgresError) as error:
                log.warning("key rotation check failed", extra={"error": repr(error)})

    async def stop(self) -> None:
        if self._grpc is not None:
            await self._grpc.stop(GRPC_STOP_GRACE_SECONDS)
        if self._rotation_task is not None:
            self._rotation_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._rotation_task
        if self.pool is not None:
            await self.pool.close()
        log.info("auth service stopped")
