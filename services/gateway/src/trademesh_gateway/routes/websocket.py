"""`/ws`: the caller's order updates, pushed live, and the live topics the client subscribes
to (see subscriptions.py).

The access token travels in the `Sec-WebSocket-Protocol` header as the two offered
subprotocols `bearer, <token>` (browsers cannot set other headers on a handshake, and
a query parameter would put the token in every access log); the server selects
`bearer`. The socket is closed with 4401 when the token expires: reconnect with a
fresh one.

The handshake is accepted before any refusal so the client learns why through the
close code (4401 no or bad token, 4403 foreign origin) instead of a bare HTTP 403.
"""

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from fastapi import FastAPI, WebSocket

from trademesh_gateway.access_tokens import AccessTokenVerifier, InvalidToken
from trademesh_gateway.fanout import ConnectionRegistry
from trademesh_gateway.routes import API_PREFIX
from trademesh_gateway.subscriptions import handle_client_text

BATCH_QUERY_PARAM = "batch"
UNAUTHENTICATED_CLOSE_CODE = 4401
FORBIDDEN_ORIGIN_CLOSE_CODE = 4403
BEARER_SUBPROTOCOL = "bearer"
_MAX_CLOSE_REASON_BYTES = 123  # RFC 6455: a close frame's payload is at most 125 bytes


class WebSocketSink:
    """A Starlette WebSocket as the fan-out's MessageSink."""

    def __init__(self, websocket: WebSocket) -> None:
        self._websocket = websocket
        # Called with each text frame the client sends; binary frames are ignored.
        self.on_text: Callable[[str], None] | None = None

    async def send_text(self, text: str) -> None:
        await self._websocket.send_text(text)

    async def wait_closed(self) -> None:
        # Reading also keeps the close handshake (and the server's flow control) working.
        while True:
            message = await self._websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is not None and self.on_text is not None:
                self.on_text(text)

    async def close(self, code: int, reason: str) -> None:
        await self._websocket.close(code, _close_reason(reason))


def _close_reason(text: str) -> str:
    return text.encode()[:_MAX_CLOSE_REASON_BYTES].decode(errors="ignore")


def origin_allowed(origin: str | None, host: str | None, allowed_origins: Sequence[str]) -> bool:
    """Browsers do not apply CORS to WebSockets, so the gateway checks `Origin` itself.

    No Origin: not a browser, nothing to protect against. Otherwise the page must be
    on an allowed origin or on the gateway's own host.
    """
    if origin is None:
        return True
    if origin in allowed_origins:
        return True
    return host is not None and urlsplit(origin).netloc.lower() == host.lower()


def offered_token(offered_subprotocols: Sequence[str]) -> str | None:
    """The token from `Sec-WebSocket-Protocol: bearer, <token>`, if offered that way."""
    if len(offered_subprotocols) == 2 and offered_subprotocols[0] == BEARER_SUBPROTOCOL:
        return offered_subprotocols[1]
    return None


def add_websocket_route(
    app: FastAPI,
    registry: ConnectionRegistry,
    verifier: AccessTokenVerifier,
    allowed_origins: Sequence[str],
) -> None:
    @app.websocket(f"{API_PREFIX}/ws")
    async def push_updates(websocket: WebSocket) -> None:
        if not origin_allowed(
            websocket.headers.get("origin"), websocket.headers.get("host"), allowed_origins
        ):
            await websocket.accept()
            await websocket.close(FORBIDDEN_ORIGIN_CLOSE_CODE, "origin not allowed")
            return
        token = offered_token(websocket.scope.get("subprotocols", []))
        if token is None:
            await websocket.accept()
            await websocket.close(
                UNAUTHENTICATED_CLOSE_CODE,
                "authentication required: offer subprotocols 'bearer, <access token>'",
            )
            return
        try:
            caller = await verifier.verify(token)
        except InvalidToken as error:
            await websocket.accept(subprotocol=BEARER_SUBPROTOCOL)
            await websocket.close(UNAUTHENTICATED_CLOSE_CODE, _close_reason(error.message))
            return
        await websocket.accept(subprotocol=BEARER_SUBPROTOCOL)
        sink = WebSocketSink(websocket)
        # Opt-in: such a client reads a frame as one message or a JSON array of messages.
        batch = websocket.query_params.get(BATCH_QUERY_PARAM) in ("1", "true")
        connection = registry.register(caller.user_id, sink, batch=batch)

        def answer(text: str) -> None:
            # A client that floods requests without reading the answers is too slow.
            if not connection.offer(handle_client_text(registry, connection, text)):
                registry.unregister(connection)
                connection.drop()

        sink.on_text = answer
        try:
            await asyncio.wait_for(connection.run(), max(0.0, caller.expires_at - time.time()))
        except TimeoutError:
            # The peer may be gone already; then there is nobody left to tell.
            with contextlib.suppress(Exception):
                await websocket.close(UNAUTHENTICATED_CLOSE_CODE, "access token expired")
        finally:
            registry.unregister(connection)
