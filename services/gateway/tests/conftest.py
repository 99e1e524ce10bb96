"""Fixtures: in-process fake OrderService/MatchingService/AuthService on ephemeral ports, a
real Redis for the rate limits, and the real gateway app (lifespan included) driven through
httpx's ASGI transport.

The fakes are contract test doubles at the gateway's boundary: they answer from
small in-memory tables and record what the gateway sent; `fail_next` makes a
method abort with a chosen gRPC status. The fake AuthService publishes the JWKS of
a key pair generated for the session (`mint`), with which the tests sign tokens.
"""

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
import jwt
import pytest
import redis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from trademesh.auth.v1 import auth_pb2, auth_pb2_grpc
from trademesh.market.v1 import market_pb2, market_pb2_grpc
from trademesh.matching.v1 import matching_pb2, matching_pb2_grpc
from trademesh.order.v1 import order_pb2, order_pb2_grpc
from trademesh_common.config import TlsSettings
from trademesh_common.health import Health
from trademesh_common.rpc import GrpcServer
from trademesh_devstack.install import ensure_debian_packages
from trademesh_devstack.redis import RedisServer
from trademesh_gateway.app import create_app
from trademesh_gateway.backends import Backends
from trademesh_gateway.fanout import ConnectionRegistry
from trademesh_gateway.settings import GatewaySettings

ALLOWED_ORIGIN = "https://terminal.example"
CREATED_US = 1_714_657_512_345_678  # 2024-05-02T13:45:12.345678Z
ISSUER = "trademesh-auth"
AUDIENCE = "trademesh-api"


@dataclass
class TokenMint:
    """Signs access tokens the way the auth service does, with a key the fake publishes."""

    private_key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    kid: str = field(default_factory=lambda: uuid.uuid4().hex)
    published: bool = True

    def jwk(self) -> dict[str, Any]:
        entry = json.loads(OKPAlgorithm.to_jwk(self.private_key.public_key()))
        return {**entry, "kid": self.kid, "alg": "EdDSA", "use": "sig"}

    def token(
        self,
        sub: str = "alice",
        *,
        lifetime: int = 300,
        headers: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        now = int(time.time())
        payload = {"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + lifetime}
        payload.update(claims)
        return jwt.encode(
            payload,
            self.private_key,
            algorithm="EdDSA",
            headers={"kid": self.kid, **(headers or {})},
        )

    def headers(self, sub: str = "alice") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(sub)}"}


@dataclass
class FakeBehaviour:
    """What the fakes answer and what they were asked; reset for every test."""

    requests: dict[str, list[Any]] = field(default_factory=dict)
    failures: dict[str, tuple[grpc.StatusCode, str]] = field(default_factory=dict)
    orders: dict[str, order_pb2.Order] = field(default_factory=dict)
    by_client_order_id: dict[tuple[str, str], str] = field(default_factory=dict)
    instruments: list[order_pb2.Instrument] = field(default_factory=list)
    depth: dict[str, matching_pb2.GetDepthResponse] = field(default_factory=dict)
    trades: dict[str, matching_pb2.TradeRecord] = field(default_factory=dict)
    quotes: dict[str, market_pb2.Quote] = field(default_factory=dict)
    candles: dict[str, market_pb2.GetCandlesResponse] = field(default_factory=dict)
    fundamentals: dict[str, market_pb2.GetFundamentalsResponse] = field(default_factory=dict)
    market_instruments: list[market_pb2.Instrument] = field(default_factory=list)
    signing_keys: list[TokenMint] = field(default_factory=list)
    next_order_number: int = 1

    def fail_next(self, method: str, code: grpc.StatusCode, details: str) -> None:
        self.failures[method] = (code, details)

    def calls(self, method: str) -> list[Any]:
        return self.requests.get(method, [])

    async def enter(self, method: str, request: Any, context: grpc.aio.ServicerContext) -> None:
        self.requests.setdefault(method, []).append(request)
        if method in self.failures:
            code, details = self.failures.pop(method)
            await context.abort(code, details)


class FakeOrderService(order_pb2_grpc.OrderServiceServicer):
    def __init__(self) -> None:
        self.behaviour = FakeBehaviour()

    async def PlaceOrder(self, request, context):
        await self.behaviour.enter("PlaceOrder", request, context)
        key = (request.user_id, request.client_order_id)
        if request.client_order_id and key in self.behaviour.by_client_order_id:
            original = self.behaviour.orders[self.behaviour.by_client_order_id[key]]
            return order_pb2.PlaceOrderResponse(order=original, duplicate=True)
        order_id = f"ord-{self.behaviour.next_order_number}"
        self.behaviour.next_order_number += 1
        order = order_pb2.Order(
            order_id=order_id,
            user_id=request.user_id,
            client_order_id=request.client_order_id,
            symbol=request.symbol,
            side=request.side,
            type=request.type,
            time_in_force=request.time_in_force,
            quantity=request.quantity,
            price=request.price,
            status=order_pb2.ORDER_STATUS_PENDING_NEW,
            created_at_us=CREATED_US,
            updated_at_us=CREATED_US,
        )
        self.behaviour.orders[order_id] = order
        if request.client_order_id:
            self.behaviour.by_client_order_id[key] = order_id
        return order_pb2.PlaceOrderResponse(order=order)

    def _owned(self, user_id: str, order_id: str) -> order_pb2.Order | None:
        order = self.behaviour.orders.get(order_id)
        return order if order is not None and order.user_id == user_id else None

    async def CancelOrder(self, request, context):
        await self.behaviour.enter("CancelOrder", request, context)
        order = self._owned(request.user_id, request.order_id)
        if order is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"order {request.order_id} not found")
        return order_pb2.CancelOrderResponse(order=order)

    async def GetOrder(self, request, context):
        await self.behaviour.enter("GetOrder", request, context)
        order = self._owned(request.user_id, request.order_id)
        if order is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"order {request.order_id} not found")
        return order

    async def ListOrders(self, request, context):
        await self.behaviour.enter("ListOrders", request, context)
        orders = [o for o in self.behaviour.orders.values() if o.user_id == request.user_id]
        return order_pb2.ListOrdersResponse(orders=orders, next_page_token="page-2")

    async def ListFills(self, request, context):
        await self.behaviour.enter("ListFills", request, context)
        return order_pb2.ListFillsResponse(
            fills=[
                order_pb2.Fill(
                    execution_id="exec-1",
                    order_id=request.order_id,
                    trade_id="trade-1",
                    symbol="ACME",
                    side="buy",
                    quantity=40,
                    price="101.20",
                    liquidity="taker",
                    created_at_us=CREATED_US,
                )
            ]
        )

    async def GetPositions(self, request, context):
        await self.behaviour.enter("GetPositions", request, context)
        return order_pb2.GetPositionsResponse(
            cash="98500.00",
            reserved_cash="1012.50",
            positions=[
                order_pb2.Position(
                    symbol="ACME", quantity=40, reserved_quantity=10, average_price="101.20"
                )
            ],
        )

    async def ListInstruments(self, request, context):
        await self.behaviour.enter("ListInstruments", request, context)
        return order_pb2.ListInstrumentsResponse(instruments=self.behaviour.instruments)


class FakeMatchingService(matching_pb2_grpc.MatchingServiceServicer):
    def __init__(self, behaviour: FakeBehaviour) -> None:
        self.behaviour = behaviour

    async def GetDepth(self, request, context):
        await self.behaviour.enter("GetDepth", request, context)
        return self.behaviour.depth.get(request.symbol, matching_pb2.GetDepthResponse())

    async def GetTrade(self, request, context):
        await self.behaviour.enter("GetTrade", request, context)
        trade = self.behaviour.trades.get(request.trade_id)
        if trade is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"trade {request.trade_id} not found")
        return trade


class FakeMarketService(market_pb2_grpc.MarketServiceServicer):
    def __init__(self, behaviour: FakeBehaviour) -> None:
        self.behaviour = behaviour

    async def _known(self, symbol, context):
        if symbol not in self.behaviour.quotes:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown symbol: {symbol}")

    async def SearchInstruments(self, request, context):
        await self.behaviour.enter("SearchInstruments", request, context)
        found = [i for i in self.behaviour.market_instruments if i.symbol.startswith(request.query)]
        return market_pb2.SearchInstrumentsResponse(instruments=found)

    async def GetQuote(self, request, context):
        await self.behaviour.enter("GetQuote", request, context)
        await self._known(request.symbol, context)
        return self.behaviour.quotes[request.symbol]

    async def GetDepth(self, request, context):
        await self.behaviour.enter("MarketGetDepth", request, context)
        await self._known(request.symbol, context)
        return market_pb2.GetDepthResponse(
            symbol=request.symbol,
            bids=[market_pb2.DepthLevel(price="101.20", quantity=300)],
            asks=[],
        )

    async def GetCandles(self, request, context):
        await self.behaviour.enter("GetCandles", request, context)
        await self._known(request.symbol, context)
        return self.behaviour.candles.get(request.symbol, market_pb2.GetCandlesResponse())

    async def GetFundamentals(self, request, context):
        await self.behaviour.enter("GetFundamentals", request, context)
        await self._known(request.symbol, context)
        return self.behaviour.fundamentals[request.symbol]


class FakeAuthService(auth_pb2_grpc.AuthServiceServicer):
    def __init__(self, behaviour: FakeBehaviour) -> None:
        self.behaviour = behaviour

    async def GetJwks(self, request, context):
        await self.behaviour.enter("GetJwks", request, context)
        keys = [mint.jwk() for mint in self.behaviour.signing_keys if mint.published]
        return auth_pb2.GetJwksResponse(jwks_json=json.dumps({"keys": keys}))

    async def GetUser(self, request, context):
        await self.behaviour.enter("GetUser", request, context)
        return auth_pb2.User(
            user_id=request.user_id, username=f"{request.user_id}-name", created_at_us=CREATED_US
        )

    async def Login(self, request, context):
        await self.behaviour.enter("Login", request, context)
        mint = self.behaviour.signing_keys[0]
        return auth_pb2.TokenPair(
            access_token=mint.token(request.username), refresh_token="opaque-1", expires_in=300
        )

    async def GetWatchlist(self, request, context):
        await self.behaviour.enter("GetWatchlist", request, context)
        await context.abort(
            grpc.StatusCode.NOT_FOUND, f"watchlist {request.watchlist_id!r} not found"
        )


@dataclass
class FakeServices:
    order: FakeOrderService
    matching: FakeMatchingService
    market: FakeMarketService
    auth: FakeAuthService
    order_target: str
    matching_target: str
    market_target: str
    auth_target: str

    @property
    def behaviour(self) -> FakeBehaviour:
        return self.order.behaviour


@pytest.fixture(scope="session")
async def fake_servers() -> AsyncIterator[FakeServices]:
    order = FakeOrderService()
    matching = FakeMatchingService(order.behaviour)
    market = FakeMarketService(order.behaviour)
    auth = FakeAuthService(order.behaviour)
    servers = {
        name: GrpcServer("127.0.0.1", 0, TlsSettings())
        for name in ("order", "matching", "market", "auth")
    }
    order_pb2_grpc.add_OrderServiceServicer_to_server(order, servers["order"].server)
    matching_pb2_grpc.add_MatchingServiceServicer_to_server(matching, servers["matching"].server)
    market_pb2_grpc.add_MarketServiceServicer_to_server(market, servers["market"].server)
    auth_pb2_grpc.add_AuthServiceServicer_to_server(auth, servers["auth"].server)
    for server in servers.values():
        await server.start()
    yield FakeServices(
        order,
        matching,
        market,
        auth,
        *(f"127.0.0.1:{servers[name].port}" for name in ("order", "matching", "market", "auth")),
    )
    for server in servers.values():
        await server.stop(0)


def seed(behaviour: FakeBehaviour) -> None:
    behaviour.instruments = [
        order_pb2.Instrument(symbol="ACME", tick_size="0.01", lot_size=1),
        order_pb2.Instrument(symbol="WIDG", tick_size="0.5", lot_size=1),
    ]
    behaviour.depth["ACME"] = matching_pb2.GetDepthResponse(
        symbol="ACME",
        bids=[
            matching_pb2.PriceLevel(price_ticks=10120, quantity=300, order_count=2),
            matching_pb2.PriceLevel(price_ticks=10100, quantity=50, order_count=1),
        ],
        asks=[matching_pb2.PriceLevel(price_ticks=10125, quantity=60, order_count=1)],
        sequence=18231,
    )
    behaviour.trades["trade-1"] = matching_pb2.TradeRecord(
        trade_id="trade-1",
        symbol="WIDG",
        price_ticks=405,
        quantity=40,
        aggressor_side="buy",
        maker_order_id="ord-maker",
        taker_order_id="ord-taker",
        created_at_us=CREATED_US,
    )
    behaviour.market_instruments = [
        market_pb2.Instrument(
            symbol="ACME",
            name="Acme Corporation",
            sector="Industrials",
            tick_size="0.01",
            lot_size=1,
            currency="USD",
        )
    ]
    behaviour.quotes["ACME"] = market_pb2.Quote(
        symbol="ACME",
        last="101.25",
        bid="101.20",
        bid_size=300,
        ask="",
        previous_close="100.00",
        change="1.25",
        change_percent="1.25",
        volume=340,
        last_trade_at_us=CREATED_US,
    )
    behaviour.candles["ACME"] = market_pb2.GetCandlesResponse(
        symbol="ACME",
        interval=market_pb2.CANDLE_INTERVAL_1M,
        candles=[
            market_pb2.Candle(
                start_us=1_714_657_500_000_000,
                open="101.00",
                high="101.50",
                low="100.90",
                close="101.25",
                volume=340,
                trade_count=3,
            )
        ],
        next_to_us=1_714_657_500_000_000,
    )
    missing = market_pb2.FundamentalValue(
        name="ev_to_ebitda", reason="ebitda is zero or negative", unit="ratio"
    )
    behaviour.fundamentals["ACME"] = market_pb2.GetFundamentalsResponse(
        symbol="ACME",
        source="sample",
        currency="USD",
        period="FY2023",
        price="101.25",
        price_basis="last_trade",
        inputs=[market_pb2.FundamentalValue(name="revenue", value="5000", unit="money")],
        metrics=[
            market_pb2.FundamentalValue(name="pe_ratio", value="20.25", unit="ratio"),
            missing,
        ],
    )


@pytest.fixture(scope="session")
def session_mint() -> TokenMint:
    return TokenMint()


@pytest.fixture
def mint(session_mint: TokenMint) -> TokenMint:
    """The key the fake auth service publishes; tokens it signs verify."""
    return session_mint


@pytest.fixture
def alice(mint: TokenMint) -> dict[str, str]:
    """Headers authenticating as user "alice"."""
    return mint.headers("alice")


@pytest.fixture
def fakes(fake_servers: FakeServices, session_mint: TokenMint) -> FakeServices:
    fresh = FakeBehaviour()
    seed(fresh)
    session_mint.published = True
    fresh.signing_keys.append(session_mint)
    fake_servers.order.behaviour = fresh
    fake_servers.market.behaviour = fresh
    fake_servers.matching.behaviour = fresh
    fake_servers.auth.behaviour = fresh
    return fake_servers


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis of the session's own for the rate limits (no Kafka or PostgreSQL needed)."""
    ensure_debian_packages(["redis-server"])
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def settings_for(fakes: FakeServices, redis_url: str) -> Callable[..., GatewaySettings]:
    def build(**overrides: Any) -> GatewaySettings:
        values: dict[str, Any] = {
            "order_target": fakes.order_target,
            "matching_target": fakes.matching_target,
            "market_target": fakes.market_target,
            "auth_target": fakes.auth_target,
            "redis_url": redis_url,
            "cors_origins": [ALLOWED_ORIGIN],
            "ws_send_queue_size": 8,
        }
        values.update(overrides)
        return GatewaySettings(**values)

    return build


@dataclass
class Gateway:
    client: httpx.AsyncClient
    registry: ConnectionRegistry
    health: Health


GatewayFactory = Callable[..., AbstractAsyncContextManager[Gateway]]


@pytest.fixture
def gateway_for(settings_for: Callable[..., GatewaySettings], redis_url: str) -> GatewayFactory:
    """Starts the real app (its lifespan opens the gRPC channels) with settings overrides."""

    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[Gateway]:
        settings = settings_for(**overrides)
        # Each test starts with no requests counted against any rate limit.
        with redis.Redis.from_url(redis_url) as client:
            client.flushdb()
        registry = ConnectionRegistry(settings.ws_send_queue_size)
        health = Health()
        backends = Backends(
            settings.order_target,
            settings.matching_target,
            settings.tls,
            settings.grpc_timeout_seconds,
            social_target=settings.social_target,
            news_target=settings.news_target,
            market_target=settings.market_target,
            auth_target=settings.auth_target,
        )
        app = create_app(settings, backends=backends, registry=registry, health=health)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://gateway.test"
            ) as client:
                yield Gateway(client, registry, health)

    return start


@pytest.fixture
async def gateway(gateway_for: GatewayFactory) -> AsyncIterator[Gateway]:
    async with gateway_for() as started:
        yield started


@pytest.fixture
def client(gateway: Gateway) -> httpx.AsyncClient:
    return gateway.client
