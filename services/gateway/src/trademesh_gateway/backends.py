"""The gRPC channels to the services behind the gateway, and their readiness.

grpc.aio channels belong to the event loop that creates them, and the app object
is built before the server's loop runs; so channels open in `open()`, called from
the app's lifespan (or a test fixture) on the serving loop.
"""

import asyncio

import grpc

from trademesh.auth.v1 import auth_pb2_grpc
from trademesh.matching.v1 import matching_pb2_grpc
from trademesh.order.v1 import order_pb2_grpc
from trademesh_common.config import TlsSettings
from trademesh_common.rpc import create_channel

# Short enough that a probe answers well inside the shared readiness timeout.
_READY_WAIT_SECONDS = 1.0


class Backends:
    def __init__(
        self,
        order_target: str,
        matching_target: str,
        tls: TlsSettings,
        call_timeout_seconds: float,
        auth_target: str,
    ) -> None:
        # Every call carries this deadline: a stuck service costs a caller seconds, not forever.
        self.call_timeout = call_timeout_seconds
        self._order_target = order_target
        self._matching_target = matching_target
        self._auth_target = auth_target
        self._tls = tls
        self._order_channel: grpc.aio.Channel | None = None
        self._matching_channel: grpc.aio.Channel | None = None
        self._order: order_pb2_grpc.OrderServiceStub | None = None
        self._matching: matching_pb2_grpc.MatchingServiceStub | None = None
        self._auth_channel: grpc.aio.Channel | None = None
        self._auth: auth_pb2_grpc.AuthServiceStub | None = None

    async def open(self) -> None:
        self._order_channel = create_channel(self._order_target, self._tls)
        self._matching_channel = create_channel(self._matching_target, self._tls)
        self._order = order_pb2_grpc.OrderServiceStub(self._order_channel)
        self._matching = matching_pb2_grpc.MatchingServiceStub(self._matching_channel)
        self._auth_channel = create_channel(self._auth_target, self._tls)
        self._auth = auth_pb2_grpc.AuthServiceStub(self._auth_channel)

    async def close(self) -> None:
        for channel in (self._order_channel, self._matching_channel, self._auth_channel):
            if channel is not None:
                await channel.close()
        self._order_channel = self._matching_channel = self._auth_channel = None
        self._order = self._matching = None
        self._auth = None

    @property
    def order(self) -> order_pb2_grpc.OrderServiceStub:
        if self._order is None:
            raise RuntimeError("backends are not open")
        return self._order

    @property
    def matching(self) -> matching_pb2_grpc.MatchingServiceStub:
        if self._matching is None:
            raise RuntimeError("backends are not open")
        return self._matching

    @property
    def auth(self) -> auth_pb2_grpc.AuthServiceStub:
        if self._auth is None:
            raise RuntimeError("backends are not open")
        return self._auth

    async def order_ready(self) -> bool:
        return await _channel_ready(self._order_channel)

    async def matching_ready(self) -> bool:
        return await _channel_ready(self._matching_channel)

    async def auth_ready(self) -> bool:
        return await _channel_ready(self._auth_channel)


async def _channel_ready(channel: grpc.aio.Channel | None) -> bool:
    if channel is None:
        return False
    try:
        # Also starts connecting an idle channel, so readiness follows the service's arrival.
        await asyncio.wait_for(channel.channel_ready(), _READY_WAIT_SECONDS)
    except TimeoutError:
        return False
    return True
