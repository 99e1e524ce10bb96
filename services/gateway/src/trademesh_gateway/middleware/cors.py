"""Starlette's CORS handling, with refused preflights answered in the error envelope."""

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import Receive, Scope, Send

from trademesh_gateway.errors import error_response

_BODY_HEADERS = frozenset({"content-length", "content-type"})


class EnvelopeCORSMiddleware(CORSMiddleware):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "OPTIONS":
            headers = Headers(scope=scope)
            if "origin" in headers and "access-control-request-method" in headers:
                preflight = self.preflight_response(request_headers=headers)
                if preflight.status_code != 200:
                    # Starlette's refusal says e.g. "Disallowed CORS origin, headers".
                    reason = bytes(preflight.body).decode().removeprefix("Disallowed CORS ")
                    cors_headers = {
                        name: value
                        for name, value in preflight.headers.items()
                        if name not in _BODY_HEADERS
                    }
                    preflight = error_response(
                        scope,
                        403,
                        "permission_denied",
                        f"CORS preflight refused: {reason} not allowed",
                        cors_headers,
                    )
                await preflight(scope, receive, send)
                return
        await super().__call__(scope, receive, send)
