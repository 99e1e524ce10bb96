"""Messages pushed to WebSocket clients on `/api/v1/ws`."""

from typing import Literal

from pydantic import BaseModel

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


PUSH_MESSAGES: tuple[type[BaseModel], ...] = (HelloMessage, OrderMessage, FillMessage)
