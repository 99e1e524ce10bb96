"""`/ws`: the caller's order updates, pushed live, and the live topics the client subscribes
to (see subscriptions.py).

The handshake is accepted before any refusal so the client learns why through the
close code (4401 no identity, 4403 foreign origin) instead of a bare HTTP 403.
"""

from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from fastapi import FastAPI, WebSocket

from trademesh_gateway.fanout import ConnectionRegistry
from trademesh_gateway.identity import (
    DEV_IDENTITY_HEADER,
    DEV_IDENTITY_QUERY_PARAM,
    IdentityError,
    resolve_dev_identity,
)
from trademesh_gateway.routes import API_PREFIX
from trademesh_gateway.subscriptions import handle_client_text

BATCH_QUERY_PARAM = "batch"
UNAUTHENTICATED_CLOSE_CODE = 4401
FORBIDDEN_ORIGIN_CLOSE_CODE = 4403
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


def add_websocket_route(
    app: FastAPI,
    registry: ConnectionRegistry,
    dev_identity: bool,
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
        claimed_user_id = websocket.headers.get(DEV_IDENTITY_HEADER) or (
            websocket.query_params.get(DEV_IDENTITY_QUERY_PARAM)
        )
        try:
            user_id = resolve_dev_identity(dev_identity, claimed_user_id)
        except IdentityError as error:
            reason = error.message
            if dev_identity and not claimed_user_id:
                reason = f"authentication required: send {DEV_IDENTITY_HEADER} or ?user="
            await websocket.accept()
            await websocket.close(UNAUTHENTICATED_CLOSE_CODE, _close_reason(reason))
            return
        await websocket.accept()
        sink = WebSocketSink(websocket)
        # Opt-in: such a client reads a frame as one message or a JSON array of messages.
        batch = websocket.query_params.get(BATCH_QUERY_PARAM) in ("1", "true")
        connection = registry.register(user_id, sink, batch=batch)

        def answer(text: str) -> None:
            # A client that floods requests without reading the answers is too slow.
            if not connection.offer(handle_client_text(registry, connection, text)):
                registry.unregister(connection)
                connection.drop()

        sink.on_text = answer
        try:
            await connection.run()
        finally:
            registry.unregister(connection)
