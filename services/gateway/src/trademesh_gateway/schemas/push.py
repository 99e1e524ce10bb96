"""Messages pushed to WebSocket clients on `/api/v1/ws`."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from trademesh_gateway.schemas.orders import Fill, Order


class HelloMessage(BaseModel):
    """First message on every connection: the subscription is live from here on."""

    type: Literal["hello"] = "hello"
    user_id: str


class OrderMessage(BaseModel):
    """One of the caller's orders changed (accepted, cancelled, rejected, ...)."""

    type: Literal["order"] = "order"
    order: Order


class FillMessage(BaseModel):
    """One of the caller's orders traded; `order` is its state after this fill."""

    type: Literal["fill"] = "fill"
    fill: Fill
    order: Order


class SubscriptionRequest(BaseModel):
    """Sent by the client: follow (or stop following) one channel of one symbol."""

    model_config = ConfigDict(extra="forbid")

    op: Literal["subscribe", "unsubscribe"]
    channel: str = Field(max_length=32, examples=["quotes"])
    symbol: str = Field(max_length=32, examples=["AAPL"])


class SubscriptionAck(BaseModel):
    """The answer to a subscribe or unsubscribe; updates follow from here on."""

    type: Literal["subscribed", "unsubscribed"]
    channel: str
    symbol: str


class SubscriptionError(BaseModel):
    """The answer to a client message that could not be applied; the socket stays open."""

    type: Literal["error"] = "error"
    code: str
    message: str


class LiveMessage(BaseModel):
    """A live update on a subscribed channel; `type` is the channel (quotes, trades, book,
    candles, posts) and `data` the update as the publishing service wrote it."""

    type: Literal["quotes", "trades", "book", "candles", "posts"]
    symbol: str
    data: dict[str, Any]


PUSH_MESSAGES: tuple[type[BaseModel], ...] = (
    HelloMessage,
    OrderMessage,
    FillMessage,
    SubscriptionRequest,
    SubscriptionAck,
    SubscriptionError,
    LiveMessage,
)
