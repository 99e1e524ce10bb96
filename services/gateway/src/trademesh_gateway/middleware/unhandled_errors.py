"""Turns a bug's exception into the 500 envelope, inside the header and metrics middleware.

Starlette's last-resort handler sits outside every user middleware, so its plain-text
500 would miss the request id, security headers and RED metrics; this one does not.
"""

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trademesh_gateway.errors import error_response

log = logging.getLogger(__name__)


class UnhandledErrorMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        response_started = False

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("unhandled error", extra={"path": scope.get("path")})
            if response_started:
                raise  # too late for a clean answer; the server drops the connection
            response = error_response(
                scope, 500, "internal", "internal error; quote the request id when reporting it"
            )
            await response(scope, receive, send)
