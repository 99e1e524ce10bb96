"""Refuses request bodies over a size limit before they are buffered in memory.

A declared `Content-Length` over the limit is refused before the app runs. A body
without one (chunked) is counted as it streams in, and reading stops at the first
byte past the limit.
"""

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trademesh_gateway.errors import error_response


class BodyTooLarge(HTTPException):
    """Raised from `receive` while the app reads the body.

    An HTTPException because FastAPI re-raises those from body parsing untouched,
    so the app's error handlers answer with the envelope.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body exceeds the limit of {limit} bytes")


def _declared_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    if value is None or not value.isdigit():
        return None  # the HTTP server already refuses malformed framing
    return int(value)


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            refusal = BodyTooLarge(limit)
            response = error_response(scope, 413, "payload_too_large", str(refusal.detail))
            await response(scope, receive, send)
            return

        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge as refusal:
            # Reached here only if no handler answered (e.g. a raw ASGI route read the body).
            if response_started:
                raise
            response = error_response(scope, 413, "payload_too_large", str(refusal.detail))
            await response(scope, receive, send)
