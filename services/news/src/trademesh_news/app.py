"""The news service's parts wired together: database, ingestion workers, gRPC server.

`NewsApp` starts and stops them in order; `__main__` runs it inside the shared
ServiceRuntime, and the integration tests run it in-process.
"""

import logging
from collections.abc import Callable
from datetime import timedelta

import asyncpg
import httpx

from trademesh.news.v1 import news_pb2_grpc
from trademesh_common.background import BackgroundTasks
from trademesh_common.db import create_pool, migrate, pool_ready_check
from trademesh_common.health import Health
from trademesh_common.rpc import GrpcServer
from trademesh_news.fetch import Fetcher, http_client
from trademesh_news.ingest import Ingestor
from trademesh_news.refresh import RefreshPolicy
from trademesh_news.service import NewsServicer
from trademesh_news.settings import NewsSettings

log = logging.getLogger(__name__)

MIGRATIONS_PACKAGE = "trademesh_news.migrations"
GRPC_STOP_GRACE_SECONDS = 5.0


class NewsApp:
    def __init__(
        self,
        settings: NewsSettings,
        health: Health,
        on_fatal: Callable[[], None] | None = None,
    ) -> None:
        """`on_fatal` is called if the ingestion loop dies: the process should then stop."""
        self._settings = settings
        self._health = health
        self._background = BackgroundTasks(on_fatal)
        self._pool: asyncpg.Pool | None = None
        self._http: httpx.AsyncClient | None = None
        self._grpc: GrpcServer | None = None
        self.ingestor: Ingestor | None = None

    @property
    def grpc_port(self) -> int:
        assert self._grpc is not None, "start() first"
        return self._grpc.port

    async def start(self) -> None:
        settings = self._settings
        applied = await migrate(settings.postgres_dsn, MIGRATIONS_PACKAGE)
        log.info("database migrated", extra={"applied": applied})
        self._pool = pool = await create_pool(settings.postgres_dsn)
        self._http = http_client(settings.fetch_timeout_seconds)
        self.ingestor = Ingestor(
            pool,
            Fetcher(self._http, settings.max_document_bytes),
            settings.news_sources,
            RefreshPolicy(
                max_age=timedelta(seconds=settings.refresh_max_age_seconds),
                min_interval=timedelta(seconds=settings.refresh_min_interval_seconds),
            ),
            settings.ingest_workers,
        )
        self._background.spawn(
            "news ingestion",
            self.ingestor.run(self._background.stopping, settings.ingest_poll_seconds),
        )

        self._grpc = GrpcServer(settings.grpc_host, settings.grpc_port, settings.tls)
        news_pb2_grpc.add_NewsServiceServicer_to_server(NewsServicer(pool), self._grpc.server)
        await self._grpc.start()

        self._health.add_check("postgres", pool_ready_check(pool))
        log.info("news service ready", extra={"grpc_port": self.grpc_port})

    async def stop(self) -> None:
        if self._grpc is not None:
            await self._grpc.stop(GRPC_STOP_GRACE_SECONDS)
        await self._background.stop()
        if self._http is not None:
            await self._http.aclose()
        if self._pool is not None:
            await self._pool.close()
        log.info("news service stopped")
