"""Fixtures for tests that cross services: the whole mesh as processes on loopback."""

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
import websockets

from trademesh_devstack.mesh import SERVICES, Mesh
from trademesh_devstack.otlp import SpanReceiver
from trademesh_devstack.stack import DevStack

# Sellers need something to sell: paper accounts start with these positions in the tests.
STARTING_POSITIONS = ",".join(
    f"{symbol}:100000"
    for symbol in ("AAPL", "MSFT", "GOOGL", "AMZN", "NVDA", "META", "TSLA", "JPM", "V", "KO")
)
DEADLINE_SECONDS = 20.0
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def span_receiver() -> Iterator[SpanReceiver]:
    """Every mesh service exports its spans here (OTLP/gRPC)."""
    receiver = SpanReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="session")
def mesh(tmp_path_factory: pytest.TempPathFactory, span_receiver: SpanReceiver) -> Iterator[Mesh]:
    # A stack of its own: other suites leave resting orders on the shared stack's
    # `orders` topic, and the mesh's matching would trade against them.
    stack = DevStack().start()
    extra_env = {name: {"TRADEMESH_OTLP_ENDPOINT": span_receiver.endpoint} for name in SERVICES}
    extra_env["order"]["TRADEMESH_PAPER_STARTING_POSITIONS"] = STARTING_POSITIONS
    # The cheapest argon2id allowed: dozens of test users sign up per run.
    extra_env["auth"].update(
        {"TRADEMESH_ARGON2_TIME_COST": "1", "TRADEMESH_ARGON2_MEMORY_KIB": "8192"}
    )
    running = Mesh(stack, tmp_path_factory.mktemp("mesh"), extra_env=extra_env)
    try:
        running.start()
        yield running
    finally:
        running.stop()
        stack.stop()


class Trader:
    """One user of the public API: an account, REST calls with its bearer token, a WebSocket."""

    def __init__(self, base_url: str, name: str) -> None:
        self.username = f"{name}-{uuid.uuid4().hex[:8]}"
        self.user_id = ""
        self.access_token = ""
        self.refresh_token = ""
        self.base_url = base_url
        self.http = httpx.AsyncClient(base_url=base_url + "/api/v1", timeout=10)
        self.messages: list[dict[str, Any]] = []
        self._ws: Any = None
        self._reader: asyncio.Task[None] | None = None

    async def sign_up(self) -> None:
        """Registers, logs in and authenticates every later call with the access token."""
        credentials = {"username": self.username, "password": PASSWORD}
        registered = await self.http.post("/auth/register", json=credentials)
        assert registered.status_code == 201, registered.text
        self.user_id = registered.json()["user_id"]
        await self.log_in()

    async def log_in(self) -> dict[str, Any]:
        response = await self.http.post(
            "/auth/login", json={"username": self.username, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        tokens = response.json()
        self.use_tokens(tokens)
        return tokens

    def use_tokens(self, tokens: dict[str, Any]) -> None:
        self.access_token = tokens["access_token"]
        self.refresh_token = tokens["refresh_token"]
        self.http.headers["Authorization"] = f"Bearer {self.access_token}"

    async def connect(self) -> None:
        url = self.base_url.replace("http://", "ws://") + "/api/v1/ws"
        self._ws = await websockets.connect(url, subprotocols=["bearer", self.access_token])
        hello = json.loads(await asyncio.wait_for(self._ws.recv(), DEADLINE_SECONDS))
        assert hello["type"] == "hello"
        self._reader = asyncio.create_task(self._read())

    async def subscribe(self, channel: str, symbol: str) -> None:
        """Follows a live topic; returns once the gateway has acknowledged it."""
        await self._ws.send(json.dumps({"op": "subscribe", "channel": channel, "symbol": symbol}))
        ack = {"type": "subscribed", "channel": channel, "symbol": symbol}
        await self.wait_for_message(lambda m: m == ack)

    async def _read(self) -> None:
        async for raw in self._ws:
            self.messages.append(json.loads(raw))

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        if self._ws is not None:
            await self._ws.close()
        await self.http.aclose()

    async def place(self, **order: Any) -> dict[str, Any]:
        response = await self.http.post("/orders", json=order)
        assert response.status_code == 202, response.text
        return response.json()

    async def order(self, order_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/orders/{order_id}")
        assert response.status_code == 200, response.text
        return response.json()

    async def wait_for_order(
        self, order_id: str, done: Callable[[dict[str, Any]], bool]
    ) -> dict[str, Any]:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while True:
            order = await self.order(order_id)
            if done(order) or time.monotonic() > deadline:
                return order
            await asyncio.sleep(0.05)

    async def wait_for_message(self, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline:
            for message in self.messages:
                if match(message):
                    return message
            await asyncio.sleep(0.05)
        raise AssertionError(f"no matching WebSocket message; got {self.messages}")

    async def positions(self) -> dict[str, Any]:
        response = await self.http.get("/positions")
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
async def traders(mesh: Mesh) -> AsyncIterator[Callable[[str], Any]]:
    made: list[Trader] = []

    async def make(name: str) -> Trader:
        trader = Trader(mesh.gateway_url, name)
        await trader.sign_up()
        await trader.connect()
        made.append(trader)
        return trader

    yield make
    for trader in made:
        await trader.close()
