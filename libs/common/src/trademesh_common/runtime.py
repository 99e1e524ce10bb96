"""What every service process does around its domain: logs, tracing, ops HTTP, clean stop."""

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Protocol

import uvloop
from fastapi import FastAPI

from trademesh_common.config import ServiceSettings
from trademesh_common.health import Health
from trademesh_common.http import HttpServer, ops_app
from trademesh_common.logs import configure_logging
from trademesh_common.telemetry import configure_tracing

log = logging.getLogger(__name__)


class ServiceApp(Protocol):
    """A service's domain side: started once the process is up, stopped before it exits."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class ServiceRuntime:
    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.health = Health()
        configure_logging(settings.service_name, settings.log_level)
        self.tracer_provider = configure_tracing(settings.service_name, settings.otlp_endpoint)
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def wait_for_stop(self) -> None:
        assert self._stop is not None, "call from inside run()"
        await self._stop.wait()

    def request_stop(self) -> None:
        if self._stop is not None:
            self._stop.set()

    def request_stop_threadsafe(self) -> None:
        """For worker threads: a failed background loop stops the whole process."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.request_stop)

    def run(
        self,
        main: Callable[["ServiceRuntime"], Awaitable[None]],
        http_app: FastAPI | None = None,
    ) -> None:
        """Runs `main` with the ops HTTP server (or `http_app`) up until SIGTERM or SIGINT."""

        async def supervise() -> None:
            self._stop = asyncio.Event()
            loop = self._loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.request_stop)
            app = http_app if http_app is not None else ops_app(self.health)
            http = HttpServer(app, self.settings.http_host, self.settings.http_port)
            await http.start()
            log.info(
                "service started",
                extra={"http_port": self.settings.http_port, "grpc_port": self.settings.grpc_port},
            )
            try:
                await main(self)
            finally:
                await http.stop()
                self.tracer_provider.shutdown()
                log.info("service stopped")

        uvloop.run(supervise())

    def run_app(self, make_app: Callable[["ServiceRuntime"], ServiceApp]) -> None:
        """Runs the app `make_app` builds from this runtime until SIGTERM or SIGINT."""

        async def main(runtime: ServiceRuntime) -> None:
            app = make_app(runtime)
            try:
                await app.start()
                await runtime.wait_for_stop()
            finally:
                await app.stop()

        self.run(main)
