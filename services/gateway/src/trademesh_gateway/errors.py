"""The one error envelope: every failure, whoever detects it, answers in the same shape.

`{"error": {"code": ..., "message": ..., "request_id": ...}}`: the code is stable for
programs, the message says precisely what was wrong, the request id ties the answer
to the gateway's logs and traces.
"""

import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import grpc
import pydantic
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError, ResponseValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import Scope

from trademesh_gateway.grpc_errors import public_error
from trademesh_gateway.proto_mapping import UpstreamContractError
from trademesh_gateway.schemas.errors import ErrorBody, ErrorEnvelope

log = logging.getLogger(__name__)

_CODES_BY_STATUS = {
    400: "invalid_argument",
    401: "unauthenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "resource_exhausted",
    500: "internal",
    502: "upstream_error",
    503: "unavailable",
    504: "deadline_exceeded",
}
# Trailing metadata key of a RESOURCE_EXHAUSTED refusal: whole seconds to wait.
RETRY_AFTER_METADATA = "retry-after"
# A long list of field errors helps nobody and makes a large response from a small request.
_MAX_REPORTED_FIELD_ERRORS = 10


class ApiError(Exception):
    """Raised by route code to answer with the envelope."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def request_id_of(scope: Scope) -> str:
    """The id the request middleware gave this request (a fresh one if it did not run)."""
    state = scope.setdefault("state", {})
    request_id = state.get("request_id")
    if not request_id:
        request_id = state["request_id"] = uuid.uuid4().hex
    return str(request_id)


def error_response(
    scope: Scope,
    status: int,
    code: str,
    message: str,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = ErrorBody(code=code, message=message, request_id=request_id_of(scope))
    envelope = ErrorEnvelope(error=body)
    return JSONResponse(envelope.model_dump(), status_code=status, headers=headers)


def code_for_status(status: int) -> str:
    return _CODES_BY_STATUS.get(status, "internal" if status >= 500 else "invalid_argument")


def _field_path(location: Sequence[str | int]) -> str:
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else part)
    return path


def describe_validation_errors(errors: Sequence[Mapping[str, Any]]) -> str:
    """One sentence per problem, each naming where it is: `body.quantity: ...`."""
    reasons = []
    for error in errors[:_MAX_REPORTED_FIELD_ERRORS]:
        location = tuple(error.get("loc", ()))
        kind = error.get("type")
        if kind == "json_invalid":
            position = location[1] if len(location) > 1 else "?"
            detail = error.get("ctx", {}).get("error", "invalid syntax")
            reasons.append(f"body: malformed JSON at character {position}: {detail}")
        elif location == ("body",) and isinstance(error.get("input"), bytes):
            # FastAPI hands over raw bytes when the body was not declared as JSON.
            reasons.append("body: must be JSON sent with Content-Type: application/json")
        elif location == ("body",) and kind == "missing":
            reasons.append("body: a JSON object is required")
        else:
            message = str(error.get("msg", "invalid"))
            message = message.removeprefix("Value error, ")
            reasons.append(f"{_field_path(location) or 'request'}: {message}")
    if len(errors) > _MAX_REPORTED_FIELD_ERRORS:
        reasons.append(f"and {len(errors) - _MAX_REPORTED_FIELD_ERRORS} more")
    return "; ".join(reasons)


def _http_exception_message(request: Request, exc: HTTPException) -> str:
    # Starlette's own 404/405 say only "Not Found"/"Method Not Allowed"; say what was asked.
    if exc.status_code == 404 and exc.detail == "Not Found":
        return f"no such route: {request.method} {request.url.path}"
    if exc.status_code == 405 and exc.detail == "Method Not Allowed":
        allowed = (exc.headers or {}).get("Allow", "")
        return f"{request.method} is not allowed on {request.url.path} (allowed: {allowed})"
    return str(exc.detail)


async def _on_api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(request.scope, exc.status, exc.code, exc.message, exc.headers)


async def _on_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return error_response(
        request.scope,
        exc.status_code,
        code_for_status(exc.status_code),
        _http_exception_message(request, exc),
        exc.headers,
    )


async def _on_request_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # 400 rather than FastAPI's 422: one status for "your request is wrong", as the
    # rest of the API (and gRPC's INVALID_ARGUMENT) uses.
    message = describe_validation_errors(exc.errors())
    return error_response(request.scope, 400, "invalid_argument", message)


def _retry_after(exc: grpc.aio.AioRpcError) -> dict[str, str] | None:
    """A service that refuses for now says how long to wait in `retry-after` metadata."""
    if exc.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
        return None
    for key, value in exc.trailing_metadata() or ():
        if key == RETRY_AFTER_METADATA and isinstance(value, str) and value.isdigit():
            return {"Retry-After": value}
    return None


async def _on_grpc_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, grpc.aio.AioRpcError)
    error, message = public_error(exc.code(), exc.details())
    log.warning(
        "backing service call failed",
        extra={"grpc_code": exc.code().name, "grpc_details": exc.details(), "status": error.status},
    )
    return error_response(request.scope, error.status, error.code, message, _retry_after(exc))


async def _on_upstream_contract_violation(request: Request, exc: Exception) -> JSONResponse:
    # A service answered with data its contract rules out: its bug, reported as a bad gateway.
    log.error("backing service broke its contract", exc_info=exc)
    return error_response(
        request.scope, 502, "upstream_error", "a backing service returned an invalid answer"
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(HTTPException, _on_http_exception)
    app.add_exception_handler(RequestValidationError, _on_request_validation)
    app.add_exception_handler(grpc.aio.AioRpcError, _on_grpc_error)
    for contract_violation in (
        UpstreamContractError,
        pydantic.ValidationError,
        ResponseValidationError,
    ):
        app.add_exception_handler(contract_violation, _on_upstream_contract_violation)
