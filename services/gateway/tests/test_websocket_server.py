"""`/api/v1/ws` on a real uvicorn server with a real WebSocket client.

Order updates are fed in as Kafka records through the relay function (the Kafka
consumer itself is covered by the full-stack test).
"""

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import pytest
import redis.asyncio as redis
import uvicorn
from confluent_kafka import Message
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from trademesh.events.v1 import order_updates_pb2
from trademesh.order.v1 import order_pb2
from trademesh_common.health import Health
from trademesh_gateway.app import create_app
from trademesh_gateway.backends import Backends
from trademesh_gateway.fanout import ConnectionRegistry
from trademesh_gateway.live import LiveRelay, relay_message
from trademesh_gateway.order_update_relay import relay_record


class _TestServer(uvicorn.Server):
    @contextmanager
    def capture_signals(self) -> Iterator[None]:  # leave pytest's signal handling alone
        yield


@asynccontextmanager
async def running_gateway(settings) -> AsyncIterator[tuple[str, ConnectionRegistry]]:
    registry = ConnectionRegistry(settings.ws_send_queue_size)
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
    app = create_app(settings, backends=backends, registry=registry, health=Health())
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = _TestServer(uvicorn.Config(app, log_config=None, lifespan="on"))
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started:
        if serving.done():
            serving.result()
        await asyncio.sleep(0.01)
    try:
        yield f"ws://127.0.0.1:{port}/api/v1/ws", registry
    finally:
        server.should_exit = True
        await serving
        listener.close()


def order_update_record(user_id: str, order_id: str, with_fill: bool) -> Message:
    order = order_pb2.Order(
        order_id=order_id,
        user_id=user_id,
        symbol="ACME",
        side="buy",
        type="limit",
        time_in_force="gtc",
        quantity=100,
        price="101.25",
        status=order_pb2.ORDER_STATUS_PARTIALLY_FILLED if with_fill else order_pb2.ORDER_STATUS_NEW,
        filled_quantity=40 if with_fill else 0,
        created_at_us=1_714_657_512_345_678,
        updated_at_us=1_714_657_512_345_678,
    )
    update = order_updates_pb2.OrderUpdate(user_id=user_id, order=order)
    if with_fill:
        update.fill.CopyFrom(
            order_pb2.Fill(
                execution_id="exec-1",
                order_id=order_id,
                trade_id="trade-1",
                symbol="ACME",
                side="buy",
                quantity=40,
                price="101.20",
                liquidity="maker",
                created_at_us=1_714_657_512_345_678,
            )
        )
    return Message(topic="order-updates", key=user_id.encode(), value=update.SerializeToString())


async def next_message(ws: ClientConnection) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), 2))


async def close_code_of(ws: ClientConnection, wait_seconds: float = 2) -> tuple[int, str]:
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), wait_seconds)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


async def wait_until(condition) -> None:
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never held")


def bearer(token: str) -> list[str]:
    """The subprotocols a client offers to authenticate its socket."""
    return ["bearer", token]


async def test_each_user_receives_their_own_order_updates(settings_for, mint):
    async with running_gateway(settings_for()) as (url, registry):
        async with (
            connect(url, subprotocols=bearer(mint.token("alice"))) as alice,
            connect(url, subprotocols=bearer(mint.token("bob"))) as bob,
        ):
            assert alice.subprotocol == "bearer"
            assert await next_message(alice) == {"type": "hello", "user_id": "alice"}
            assert await next_message(bob) == {"type": "hello", "user_id": "bob"}

            relay_record(order_update_record("alice", "ord-1", with_fill=False), registry)
            relay_record(order_update_record("alice", "ord-1", with_fill=True), registry)
            relay_record(order_update_record("bob", "ord-2", with_fill=False), registry)

            accepted = await next_message(alice)
            assert accepted["type"] == "order"
            assert accepted["order"]["order_id"] == "ord-1"
            assert accepted["order"]["status"] == "new"
            filled = await next_message(alice)
            assert filled["type"] == "fill"
            assert filled["fill"]["price"] == "101.20"
            assert filled["order"]["filled_quantity"] == 40
            # Bob's next message is his own update: none of Alice's reached him.
            bobs = await next_message(bob)
            assert bobs["order"]["order_id"] == "ord-2"

        await wait_until(lambda: registry.connection_count == 0)


async def test_without_a_token_the_socket_closes_with_4401(settings_for):
    async with running_gateway(settings_for()) as (url, registry), connect(url) as ws:
        code, reason = await close_code_of(ws)

        assert code == 4401
        assert reason == "authentication required: offer subprotocols 'bearer, <access token>'"
        assert registry.connection_count == 0


@pytest.mark.parametrize(
    ("make_token", "reason"),
    [
        (lambda mint: mint.token("alice", lifetime=-60), "access token has expired"),
        (lambda mint: mint.token("alice", aud="someone-else"), "access token is not meant"),
        (lambda mint: "not-a-jwt", "access token is malformed"),
    ],
)
async def test_a_bad_token_closes_the_socket_with_4401(settings_for, mint, make_token, reason):
    async with (
        running_gateway(settings_for()) as (url, registry),
        connect(url, subprotocols=bearer(make_token(mint))) as ws,
    ):
        code, said = await close_code_of(ws)

        assert code == 4401
        assert said.startswith(reason)
        assert registry.connection_count == 0


async def test_the_socket_closes_when_its_token_expires(settings_for, mint):
    async with (
        running_gateway(settings_for(jwt_leeway_seconds=0)) as (url, registry),
        # Whole seconds in `exp`: this token lives between one and two more seconds.
        connect(url, subprotocols=bearer(mint.token("alice", lifetime=2))) as ws,
    ):
        assert (await next_message(ws))["type"] == "hello"
        assert await close_code_of(ws, wait_seconds=10) == (4401, "access token expired")
        await wait_until(lambda: registry.connection_count == 0)


async def test_a_page_on_a_foreign_origin_cannot_subscribe(settings_for, mint):
    token = bearer(mint.token("alice"))
    async with running_gateway(settings_for()) as (url, _):
        async with connect(url, subprotocols=token, origin="https://evil.example") as ws:
            assert await close_code_of(ws) == (4403, "origin not allowed")
        async with connect(url, subprotocols=token, origin="https://terminal.example") as ws:
            assert (await next_message(ws))["type"] == "hello"


async def test_live_topics_over_a_real_socket(settings_for, mint):
    async with running_gateway(settings_for()) as (url, registry):
        async with (
            connect(url, subprotocols=bearer(mint.token("alice"))) as alice,
            connect(url, subprotocols=bearer(mint.token("bob"))) as bob,
        ):
            await next_message(alice)
            await next_message(bob)
            await alice.send('{"op": "subscribe", "channel": "trades", "symbol": "ACME"}')
            assert await next_message(alice) == {
                "type": "subscribed",
                "channel": "trades",
                "symbol": "ACME",
            }
            await alice.send("{oops")
            assert (await next_message(alice))["code"] == "bad_request"

            relay_message(registry, "live.trades.ACME", b'{"price": "101.20", "quantity": 5}')
            assert await next_message(alice) == {
                "type": "trades",
                "symbol": "ACME",
                "data": {"price": "101.20", "quantity": 5},
            }
            # Bob subscribed to nothing: his next message is his own order update.
            relay_record(order_update_record("bob", "ord-9", with_fill=False), registry)
            assert (await next_message(bob))["type"] == "order"

        await wait_until(lambda: not registry.has_topic_subscribers("live.trades.ACME"))


@pytest.mark.integration
async def test_the_live_relay_forwards_redis_updates(settings_for, devstack, mint):
    client = redis.from_url(devstack.env()["TRADEMESH_REDIS_URL"])
    async with running_gateway(settings_for()) as (url, registry):
        relay = LiveRelay(client, registry)
        task = asyncio.create_task(relay.run())
        try:
            await wait_until(lambda: relay.subscribed)
            async with connect(url, subprotocols=bearer(mint.token("alice"))) as alice:
                await next_message(alice)
                await alice.send('{"op": "subscribe", "channel": "quotes", "symbol": "ACME"}')
                await next_message(alice)
                await client.publish("live.quotes.WIDG", '{"last": "1.00"}')
                await client.publish("live.quotes.ACME", '{"last": "101.25"}')
                assert await next_message(alice) == {
                    "type": "quotes",
                    "symbol": "ACME",
                    "data": {"last": "101.25"},
                }
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await client.aclose()
