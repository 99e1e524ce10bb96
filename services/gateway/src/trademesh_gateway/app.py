"""The public app: routes, error envelope, middleware and ops endpoints, wired together."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from trademesh_common.health import Health
from trademesh_common.http import REQUEST_ID_HEADER, add_ops_routes, add_request_middleware
from trademesh_gateway.backends import Backends
from trademesh_gateway.errors import install_error_handlers
from trademesh_gateway.fanout import ConnectionRegistry
from trademesh_gateway.identity import DEV_IDENTITY_HEADER, caller_dependency
from trademesh_gateway.instruments import InstrumentCache, order_service_loader
from trademesh_gateway.middleware.body_limit import BodySizeLimitMiddleware
from trademesh_gateway.middleware.cors import EnvelopeCORSMiddleware
from trademesh_gateway.middleware.security_headers import SecurityHeadersMiddleware
from trademesh_gateway.middleware.unhandled_errors import UnhandledErrorMiddleware
from trademesh_gateway.openapi_docs import install_openapi
from trademesh_gateway.routes import API_PREFIX
from trademesh_gateway.routes.market import add_market_routes
from trademesh_gateway.routes.news import add_news_routes
from trademesh_gateway.routes.orders import add_order_routes
from trademesh_gateway.routes.positions import add_position_routes
from trademesh_gateway.routes.social import add_social_routes
from trademesh_gateway.routes.trades import add_trade_routes
from trademesh_gateway.routes.websocket import add_websocket_route
from trademesh_gateway.settings import GatewaySettings
from trademesh_gateway.strict_query import reject_unknown_query_parameters

_DESCRIPTION = """\
The trademesh exchange API.

Prices and amounts are decimal strings; quantities are integers. Every error answers
`{"error": {"code", "message", "request_id"}}`.

**Live updates**: open a WebSocket on `/api/v1/ws`. The first message is `HelloMessage`;
then each change to one of your orders arrives as `OrderMessage`, or as `FillMessage`
when a fill caused it. A client that stops reading is disconnected with close code 1013;
reconnect and re-read your orders. Close code 4401 means no identity, 4403 a foreign origin.
"""


def create_app(
    settings: GatewaySettings,
    *,
    backends: Backends,
    registry: ConnectionRegistry,
    health: Health,
) -> FastAPI:
    """Builds the app; nothing connects until the app's lifespan opens `backends`."""
    instruments = InstrumentCache(
        order_service_loader(backends), settings.instrument_cache_ttl_seconds
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await backends.open()
        try:
            yield
        finally:
            await backends.close()

    app = FastAPI(
        title="trademesh API",
        version="1.0.0",
        description=_DESCRIPTION,
        openapi_url=f"{API_PREFIX}/openapi.json",
        # The interactive docs pages load scripts from a CDN, which the API's strict
        # Content-Security-Policy forbids; the document itself is served above.
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        # A redirect would turn `POST /orders/` into a confusing second request.
        redirect_slashes=False,
        dependencies=[Depends(reject_unknown_query_parameters)],
    )
    install_error_handlers(app)

    caller = caller_dependency(settings.dev_identity)
    add_order_routes(app, backends, caller)
    add_position_routes(app, backends, caller)
    add_trade_routes(app, backends, instruments, caller)
    add_market_routes(app, backends, instruments)
    add_social_routes(app, backends, caller)
    add_news_routes(app, backends)
    add_websocket_route(app, registry, settings.dev_identity, settings.cors_origins)

    health.add_check("order-service", backends.order_ready)
    health.add_check("matching-service", backends.matching_ready)
    add_ops_routes(app, health)

    # Added innermost first: each add wraps everything added before it.
    app.add_middleware(BodySizeLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(UnhandledErrorMiddleware)
    app.add_middleware(
        EnvelopeCORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=True,  # safe: the origin list is explicit (wildcards are refused)
        allow_methods=["GET", "POST", "DELETE"],
        allow_headers=[
            "Authorization",
            "Content-Type",
            REQUEST_ID_HEADER,
            "traceparent",
            "tracestate",
            *([DEV_IDENTITY_HEADER] if settings.dev_identity else []),
        ],
        expose_headers=[REQUEST_ID_HEADER, "Location", "Retry-After"],
        max_age=600,
    )
    app.add_middleware(SecurityHeadersMiddleware)
    add_request_middleware(app)  # outermost: request ids and metrics cover every answer

    install_openapi(app)
    return app
