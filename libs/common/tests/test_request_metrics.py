"""RED metrics label requests by route template, wherever the route was declared."""

import httpx
from fastapi import APIRouter, FastAPI
from prometheus_client import REGISTRY

from trademesh_common.health import Health
from trademesh_common.http import add_ops_routes, add_request_middleware


def _app() -> FastAPI:
    app = FastAPI()
    router = APIRouter(prefix="/api/v1/things")

    @router.get("/{thing_id}")
    async def get_thing(thing_id: str) -> dict[str, str]:
        return {"id": thing_id}

    app.include_router(router)

    @app.get("/direct/{name}")
    async def direct(name: str) -> dict[str, str]:
        return {"name": name}

    add_ops_routes(app, Health())
    add_request_middleware(app)
    return app


def _count(route: str, status: str) -> float:
    value = REGISTRY.get_sample_value(
        "trademesh_http_requests_total", {"route": route, "method": "GET", "status": status}
    )
    return value or 0.0


async def _get(app: FastAPI, path: str, **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path, headers=headers)


async def test_included_router_routes_are_labelled_with_their_full_template():
    app = _app()
    before = _count("/api/v1/things/{thing_id}", "200")
    assert (await _get(app, "/api/v1/things/42")).status_code == 200
    assert _count("/api/v1/things/{thing_id}", "200") == before + 1


async def test_app_routes_and_unknown_paths_get_bounded_labels():
    app = _app()
    direct, unmatched = _count("/direct/{name}", "200"), _count("unmatched", "404")
    await _get(app, "/direct/x")
    await _get(app, "/no/such/path/123")
    assert _count("/direct/{name}", "200") == direct + 1
    assert _count("unmatched", "404") == unmatched + 1


async def test_metrics_speak_openmetrics_to_scrapers_that_ask():
    app = _app()
    await _get(app, "/direct/y")
    classic = await _get(app, "/metrics")
    assert classic.headers["content-type"].startswith("text/plain")
    openmetrics = await _get(app, "/metrics", accept="application/openmetrics-text; version=1.0.0")
    assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
    assert openmetrics.text.rstrip().endswith("# EOF")
