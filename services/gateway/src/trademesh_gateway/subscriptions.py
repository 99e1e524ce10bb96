"""What a WebSocket client may say: subscribe to and unsubscribe from live topics.

`{"op": "subscribe" | "unsubscribe", "channel": "quotes", "symbol": "AAPL"}` is
answered by `{"type": "subscribed" | "unsubscribed", "channel", "symbol"}` or by
`{"type": "error", "code", "message"}`; a bad message never closes the socket.
"""

import json

from pydantic import ValidationError

from trademesh_gateway.fanout import ClientConnection, ConnectionRegistry
from trademesh_gateway.live import CHANNELS, topic_for, valid_symbol
from trademesh_gateway.schemas.push import (
    SubscriptionAck,
    SubscriptionError,
    SubscriptionRequest,
)

MAX_CLIENT_MESSAGE_CHARS = 1024
MAX_SUBSCRIPTIONS_PER_CONNECTION = 200


def handle_client_text(
    registry: ConnectionRegistry, connection: ClientConnection, text: str
) -> str:
    """Applies one client message; returns the answer to send back."""
    if len(text) > MAX_CLIENT_MESSAGE_CHARS:
        return _error("too_large", f"messages are at most {MAX_CLIENT_MESSAGE_CHARS} characters")
    try:
        request = SubscriptionRequest.model_validate(json.loads(text))
    except ValueError as error:  # JSON errors and ValidationError alike
        return _error("bad_request", _describe(error))
    channel, symbol = request.channel, request.symbol.upper()
    if channel not in CHANNELS:
        return _error("unknown_channel", f"channel must be one of {', '.join(sorted(CHANNELS))}")
    if not valid_symbol(symbol):
        return _error("bad_symbol", "symbol must be 1-32 of A-Z 0-9 . _ -")
    topic = topic_for(channel, symbol)
    if request.op == "subscribe":
        if (
            topic not in connection.topics
            and len(connection.topics) >= MAX_SUBSCRIPTIONS_PER_CONNECTION
        ):
            return _error(
                "too_many_subscriptions",
                f"at most {MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions per connection",
            )
        registry.subscribe(connection, topic)
        return SubscriptionAck(type="subscribed", channel=channel, symbol=symbol).model_dump_json()
    registry.unsubscribe(connection, topic)
    return SubscriptionAck(type="unsubscribed", channel=channel, symbol=symbol).model_dump_json()


def _describe(error: ValueError) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "message"
        return f"{where}: {first['msg']}"
    return "not a JSON object"


def _error(code: str, message: str) -> str:
    return SubscriptionError(code=code, message=message).model_dump_json()
