"""The gRPC channels to the services behind the gateway, and their readiness.

grpc.aio channels belong to the event loop that creates them, and the app object
is built before the server's loop runs; so channels open in `open()`, called from
the app's lifespan (or a test fixture) on the serving loop.
"""

import asyncio
from typing import Any

import grpc

from trademesh.auth.v1 import auth_pb2_grpc
from trademesh.market.v1 import market_pb2_grpc
from trademesh.matching.v1 import matching_pb2_grpc
from trademesh.news.v1 import news_pb2_grpc
from trademesh.order.v1 import order_pb2_grpc
from trademesh.social.v1 import social_pb2_grpc
from trademesh_common.config import TlsSettings
from trademesh_common.rpc import create_channel

# Short enough that a probe answers well inside the shared readiness timeout.
_READY_WAIT_SECONDS = 1.0


# One channel per service; the stub class says how the gateway talks to it.
_STUB_CLASSES: dict[str, Any] = {
    "auth": auth_pb2_grpc.AuthServiceStub,
    "order": order_pb2_grpc.OrderServiceStub,
    "matching": matching_pb2_grpc.MatchingServiceStub,
    "market": market_pb2_grpc.MarketServiceStub,
    "social": social_pb2_grpc.SocialServiceStub,
    "news": news_pb2_grpc.NewsServiceStub,
}


class Backends:
    def __init__(
        self,
        order_target: str,
        matching_target: str,
        tls: TlsSettings,
        call_timeout_seconds: float,
        *,
        auth_target: str,
        market_target: str,
        social_target: str,
        news_target: str,
    ) -> None:
        # Every call carries this deadline: a stuck service costs a caller seconds, not forever.
        self.call_timeout = call_timeout_seconds
        self._targets = {
            "auth": auth_target,
            "order": order_target,
            "matching": matching_target,
            "market": market_target,
            "social": social_target,
            "news": news_target,
        }
        self._tls = tls
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._stubs: dict[str, Any] = {}

    async def open(self) -> None:
        for name, target in self._targets.items():
            channel = create_channel(target, self._tls)
            self._channels[name] = channel
            self._stubs[name] = _STUB_CLASSES[name](channel)

    async def close(self) -> None:
        channels, self._channels, self._stubs = self._channels, {}, {}
        for channel in channels.values():
            await channel.close()

    def _stub(self, name: str) -> Any:
        stub = self._stubs.get(name)
        if stub is None:
            raise RuntimeError("backends are not open")
        return stub

    @property
    def order(self) -> order_pb2_grpc.OrderServiceStub:
        return self._stub("order")

    @property
    def matching(self) -> matching_pb2_grpc.MatchingServiceStub:
        return self._stub("matching")

    @property
    def market(self) -> market_pb2_grpc.MarketServiceStub:
        return self._stub("market")

    @property
    def social(self) -> social_pb2_grpc.SocialServiceStub:
        return self._stub("social")

    @property
    def news(self) -> news_pb2_grpc.NewsServiceStub:
        return self._stub("news")

    @property
    def auth(self) -> auth_pb2_grpc.AuthServiceStub:
        return self._stub("auth")

    async def order_ready(self) -> bool:
        return await _channel_ready(self._channels.get("order"))

    async def matching_ready(self) -> bool:
        return await _channel_ready(self._channels.get("matching"))

    async def market_ready(self) -> bool:
        return await _channel_ready(self._channels.get("market"))

    async def auth_ready(self) -> bool:
        return await _channel_ready(self._channels.get("auth"))


async def _channel_ready(channel: grpc.aio.Channel | None) -> bool:
    if channel is None:
        return False
    try:
        # Also starts connecting an idle channel, so readiness follows the service's arrival.
        await asyncio.wait_for(channel.channel_ready(), _READY_WAIT_SECONDS)
    except TimeoutError:
        return False
    return True
