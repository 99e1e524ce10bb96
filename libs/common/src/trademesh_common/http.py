"""The HTTP side every service has: health, readiness, metrics, request ids and RED.

Non-HTTP services run `ops_app()` on their ops port; the gateway mounts the
same routes and middleware on its public app.
"""

import asyncio
import contextlib
import time
import uuid
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.telemetry import TelemetryConfig
from opentelemetry import propagate, trace
from opentelemetry.propagators.textmap import Getter
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trademesh_common.health import Health
from trademesh_common.metrics import HTTP_DURATION, HTTP_REQUESTS, exposition, trace_exemplar

REQUEST_ID_HEADER = "x-request-id"
# FastAPI's own OpenTelemetry layer would add a second server span, operation spans and
# its own duration histogram to every request, on top of RequestObservingMiddleware.
NATIVE_TELEMETRY_OFF: TelemetryConfig = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
}
_tracer = trace.get_tracer("trademesh.http")


def add_ops_routes(app: FastAPI, health: Health) -> None:
    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        checks = await health.readiness()
        ready = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not_ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        body, content_type = exposition(request.headers.get("accept", ""))
        return Response(body, media_type=content_type)


_OPS_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
_REQUEST_ID_KEY = REQUEST_ID_HEADER.encode()


class _HeadersGetter(Getter[list[tuple[bytes, bytes]]]):
    """Reads trace context straight from the ASGI header list (names are lower case)."""

    def get(self, carrier: list[tuple[bytes, bytes]], key: str) -> list[str] | None:
        wanted = key.lower().encode()
        values = [value.decode("latin-1") for name, value in carrier if name == wanted]
        return values or None

    def keys(self, carrier: list[tuple[bytes, bytes]]) -> list[str]:
        return [name.decode("latin-1") for name, _ in carrier]


_HEADERS_GETTER = _HeadersGetter()


def _route_template(scope: Scope) -> str:
    """The matched route's template ("/api/v1/orders/{order_id}"), never the raw path.

    Read after routing from the scope, where the router records the route it chose:
    routes added through `include_router` are found with their full prefixed path, which
    scanning `app.router.routes` cannot do (FastAPI keeps an included router as one route).
    """
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


class RequestObservingMiddleware:
    """Request ids, a server span continuing the caller's trace, and RED metrics.

    Pure ASGI: Starlette's `BaseHTTPMiddleware` runs the app in a task group and pipes
    the response through a memory stream, which costs more than the rest of a quote read.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in _OPS_PATHS:
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        request_id = next(
            (value.decode("latin-1") for name, value in headers if name == _REQUEST_ID_KEY), ""
        )
        request_id = request_id or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        method: str = scope["method"]
        status = 500  # unless the app answers: an exception escaping it is a server error

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        parent = propagate.extract(headers, getter=_HEADERS_GETTER)
        start = time.perf_counter()
        with _tracer.start_as_current_span(
            method, context=parent, kind=trace.SpanKind.SERVER
        ) as span:
            span.set_attribute("http.request.method", method)
            try:
                await self.app(scope, receive, send_with_request_id)
            finally:
                route = _route_template(scope)
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)
                HTTP_REQUESTS.labels(route, method, str(status)).inc()
                HTTP_DURATION.labels(route, method).observe(
                    time.perf_counter() - start, exemplar=trace_exemplar(span)
                )


def add_request_middleware(app: FastAPI) -> None:
    """Request ids, a server span continuing the caller's trace, and RED metrics."""
    app.add_middleware(RequestObservingMiddleware)


def ops_app(health: Health) -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None, telemetry=NATIVE_TELEMETRY_OFF)
    add_ops_routes(app, health)
    return app


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the service runtime."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class HttpServer:
    """Serves a FastAPI app on the running event loop; `stop()` drains it gracefully."""

    def __init__(self, app: FastAPI, host: str, port: int) -> None:
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,  # RequestObservingMiddleware counts and traces every request
            http="httptools",
            lifespan="on",
            ws_max_size=1 << 16,
        )
        self._server = _EmbeddedServer(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises the start-up error (e.g. port in use)
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task
