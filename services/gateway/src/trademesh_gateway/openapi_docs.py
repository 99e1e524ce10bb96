"""What the OpenAPI document says about failures and pushes, shared by every route."""

from typing import Any

from fastapi import FastAPI
from pydantic.json_schema import models_json_schema

from trademesh_gateway.schemas.errors import ErrorEnvelope
from trademesh_gateway.schemas.push import PUSH_MESSAGES

_ERROR_DESCRIPTIONS = {
    400: "The request is invalid (the message names the field).",
    401: "No valid access token (missing, malformed, expired or not ours).",
    403: "The caller may not do this.",
    404: "No such resource.",
    409: "Refused in the current state (e.g. insufficient cash, order already final).",
    413: "Request body too large.",
    429: "Rate limited (per client address, and per user): retry after `Retry-After` seconds.",
    502: "A backing service failed.",
    503: "A backing service is unavailable; retry.",
    504: "A backing service did not answer in time.",
}
# Failures any route may answer with: they come from the mesh, not the route.
_COMMON_STATUSES = (400, 429, 502, 503, 504)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {"model": ErrorEnvelope, "description": _ERROR_DESCRIPTIONS[status]}
        for status in sorted({*_COMMON_STATUSES, *statuses})
    }


def install_openapi(app: FastAPI) -> None:
    """Finishes FastAPI's document: our 400s replace its 422s, and the push messages
    (which OpenAPI cannot attach to a WebSocket) are listed as schemas."""
    generate = app.openapi  # FastAPI's generator; it caches the document it builds
    _, push_schemas = models_json_schema(
        [(model, "serialization") for model in PUSH_MESSAGES],
        ref_template="#/components/schemas/{model}",
    )

    def openapi() -> dict[str, Any]:
        document = generate()
        for operations in document.get("paths", {}).values():
            for operation in operations.values():
                operation.get("responses", {}).pop("422", None)
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        for name, schema in push_schemas.get("$defs", {}).items():
            schemas.setdefault(name, schema)
        return document

    app.openapi = openapi  # type: ignore[method-assign]
