"""The HTTP side every service has: health, readiness, metrics, request ids and RED.

Non-HTTP services run `ops_app()` on their ops port; the gateway mounts the
same routes and middleware on its public app.
"""

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from opentelemetry import propagate, trace

from trademesh_common.health import Health
from trademesh_common.metrics import HTTP_DURATION, HTTP_REQUESTS, exposition, trace_exemplar

REQUEST_ID_HEADER = "x-request-id"
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


def _route_template(request: Request) -> str:
    """The matched route's template ("/api/v1/orders/{order_id}"), never the raw path.

    Read after routing from the scope, where the router records the route it chose:
    routes added through `include_router` are found with their full prefixed path, which
    scanning `app.router.routes` cannot do (FastAPI keeps an included router as one route).
    """
    route = request.scope.get("route")
    return getattr(route, "path", None) or "unmatched"


def add_request_middleware(app: FastAPI) -> None:
    """Request ids, a server span continuing the caller's trace, and RED metrics."""

    @app.middleware("http")
    async def observe(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if request.url.path in _OPS_PATHS:
            return await call_next(request)
        request_id = request.headers.get(REQUEST_ID_HEADER) or uuid.uuid4().hex
        request.state.request_id = request_id
        parent = propagate.extract(dict(request.headers))
        start = time.perf_counter()
        with _tracer.start_as_current_span(
            request.method, context=parent, kind=trace.SpanKind.SERVER
        ) as span:
            span.set_attribute("http.request.method", request.method)
            response = await call_next(request)
            route = _route_template(request)
            span.update_name(f"{request.method} {route}")
            span.set_attribute("http.route", route)
            span.set_attribute("http.response.status_code", response.status_code)
        HTTP_REQUESTS.labels(route, request.method, str(response.status_code)).inc()
        HTTP_DURATION.labels(route, request.method).observe(
            time.perf_counter() - start, exemplar=trace_exemplar(span)
        )
        response.headers[REQUEST_ID_HEADER] = request_id
        return response


def ops_app(health: Health) -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
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
            app, host=host, port=port, log_config=None, lifespan="on", ws_max_size=1 << 16
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
