"""The registry and per-connection queues, with in-memory sinks instead of sockets."""

import asyncio
import json

from trademesh_gateway.fanout import (
    SLOW_CLIENT_CLOSE_CODE,
    ConnectionRegistry,
)
from trademesh_gateway.metrics import (
    WEBSOCKET_CLIENTS,
    WEBSOCKET_MESSAGES_PUSHED,
    WEBSOCKET_SLOW_CLIENTS_DROPPED,
)


class RecordingSink:
    """A client that reads everything at once."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.closed_with: tuple[int, str] | None = None
        self.peer_gone = asyncio.Event()
        self.got_message = asyncio.Event()

    async def send_text(self, text: str) -> None:
        self.received.append(json.loads(text))
        self.got_message.set()

    async def wait_closed(self) -> None:
        await self.peer_gone.wait()

    async def close(self, code: int, reason: str) -> None:
        self.closed_with = (code, reason)

    async def wait_for(self, count: int) -> list[dict]:
        while len(self.received) < count:
            self.got_message.clear()
            await asyncio.wait_for(self.got_message.wait(), 2)
        return self.received


class StuckSink(RecordingSink):
    """A client that stopped reading: every send blocks forever."""

    def __init__(self) -> None:
        super().__init__()
        self.sends_started = 0

    async def send_text(self, text: str) -> None:
        self.sends_started += 1
        await asyncio.Event().wait()


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_connection_starts_with_hello_then_gets_its_users_messages():
    registry = ConnectionRegistry(queue_size=8)
    sink = RecordingSink()
    connection = registry.register("alice", sink)
    running = asyncio.create_task(connection.run())

    registry.publish("alice", '{"type": "order", "n": 1}')
    registry.publish("alice", '{"type": "order", "n": 2}')

    assert await sink.wait_for(3) == [
        {"type": "hello", "user_id": "alice"},
        {"type": "order", "n": 1},
        {"type": "order", "n": 2},
    ]
    sink.peer_gone.set()
    await asyncio.wait_for(running, 2)
    assert sink.closed_with is None  # the peer left by itself: nothing to close


async def test_messages_reach_only_their_users_connections():
    registry = ConnectionRegistry(queue_size=8)
    alice_phone, alice_laptop, bob = RecordingSink(), RecordingSink(), RecordingSink()
    connections = [
        registry.register("alice", alice_phone),
        registry.register("alice", alice_laptop),
        registry.register("bob", bob),
    ]
    running = [asyncio.create_task(c.run()) for c in connections]

    delivered = registry.publish("alice", '{"type": "order", "for": "alice"}')
    assert registry.publish("carol", '{"type": "order", "for": "carol"}') == 0

    assert delivered == 2
    for sink in (alice_phone, alice_laptop):
        assert (await sink.wait_for(2))[1] == {"type": "order", "for": "alice"}
    await settle()
    assert bob.received == [{"type": "hello", "user_id": "bob"}]
    for sink in (alice_phone, alice_laptop, bob):
        sink.peer_gone.set()
    await asyncio.gather(*running)


async def test_a_slow_client_is_dropped_without_holding_up_the_others():
    registry = ConnectionRegistry(queue_size=2)
    stuck, healthy = StuckSink(), RecordingSink()
    stuck_connection = registry.register("alice", stuck)
    healthy_connection = registry.register("alice", healthy)
    stuck_running = asyncio.create_task(stuck_connection.run())
    healthy_running = asyncio.create_task(healthy_connection.run())
    await settle()  # the stuck client's sender is now blocked writing the hello
    dropped_before = WEBSOCKET_SLOW_CLIENTS_DROPPED._value.get()

    for n in range(10):
        # publish() never awaits, so a blocked socket cannot stall the relay loop.
        registry.publish("alice", json.dumps({"type": "order", "n": n}))
        await settle()

    received = await healthy.wait_for(11)
    assert [m.get("n") for m in received[1:]] == list(range(10))
    await asyncio.wait_for(stuck_running, 2)
    assert stuck.closed_with is not None
    assert stuck.closed_with[0] == SLOW_CLIENT_CLOSE_CODE
    assert "too slow" in stuck.closed_with[1]
    assert stuck_connection.dropped
    assert WEBSOCKET_SLOW_CLIENTS_DROPPED._value.get() == dropped_before + 1
    # Dropped connections are out of the registry: later messages go to the healthy one only.
    assert registry.publish("alice", '{"type": "order", "n": 10}') == 1
    healthy.peer_gone.set()
    await healthy_running


async def test_a_slow_client_whose_close_also_hangs_still_ends():
    class DeafSink(StuckSink):
        async def close(self, code: int, reason: str) -> None:
            await asyncio.Event().wait()

    registry = ConnectionRegistry(queue_size=1, close_timeout_seconds=0.05)
    connection = registry.register("alice", DeafSink())
    running = asyncio.create_task(connection.run())
    await settle()
    registry.publish("alice", "{}")
    registry.publish("alice", "{}")  # queue full: dropped

    await asyncio.wait_for(running, 2)  # bounded by the close timeout
    assert connection.dropped


async def test_a_failed_send_ends_the_connection():
    class BrokenSink(RecordingSink):
        async def send_text(self, text: str) -> None:
            raise ConnectionResetError("peer vanished")

    registry = ConnectionRegistry(queue_size=4)
    connection = registry.register("alice", BrokenSink())

    await asyncio.wait_for(connection.run(), 2)
    registry.unregister(connection)

    assert not registry.has_subscribers("alice")


async def test_the_registry_counts_connections_and_unregisters_idempotently():
    registry = ConnectionRegistry(queue_size=4)
    clients_before = WEBSOCKET_CLIENTS._value.get()
    first = registry.register("alice", RecordingSink())
    second = registry.register("alice", RecordingSink())

    assert registry.connection_count == 2
    assert WEBSOCKET_CLIENTS._value.get() == clients_before + 2
    registry.unregister(first)
    registry.unregister(first)
    assert registry.connection_count == 1
    assert registry.has_subscribers("alice")
    registry.unregister(second)
    assert not registry.has_subscribers("alice")
    assert WEBSOCKET_CLIENTS._value.get() == clients_before


async def test_pushed_messages_are_counted():
    registry = ConnectionRegistry(queue_size=4)
    sink = RecordingSink()
    connection = registry.register("alice", sink)
    running = asyncio.create_task(connection.run())
    pushed_before = WEBSOCKET_MESSAGES_PUSHED._value.get()

    registry.publish("alice", "{}")
    await sink.wait_for(2)

    assert WEBSOCKET_MESSAGES_PUSHED._value.get() == pushed_before + 2
    sink.peer_gone.set()
    await running


async def test_topic_subscribers_get_topic_messages_and_a_slow_one_is_dropped():
    registry = ConnectionRegistry(queue_size=3)
    reader, stuck = RecordingSink(), StuckSink()
    fast = registry.register("alice", reader)
    slow = registry.register("bob", stuck)
    other = registry.register("carol", RecordingSink())
    runs = [asyncio.create_task(c.run()) for c in (fast, slow)]
    registry.subscribe(fast, "live.quotes.ACME")
    registry.subscribe(slow, "live.quotes.ACME")
    registry.subscribe(other, "live.trades.ACME")
    await settle()

    delivered = []
    for n in range(4):
        delivered.append(registry.publish_topic("live.quotes.ACME", json.dumps({"n": n})))
        await settle()

    # bob's sender is stuck on his hello; his queue (3) takes three updates, not a fourth.
    assert delivered == [2, 2, 2, 1]
    assert slow.dropped
    assert await reader.wait_for(5) == [
        {"type": "hello", "user_id": "alice"},
        *({"n": n} for n in range(4)),
    ]
    assert registry.publish_topic("live.quotes.NOPE", "{}") == 0
    registry.unsubscribe(fast, "live.quotes.ACME")
    assert not registry.has_topic_subscribers("live.quotes.ACME")
    assert registry.has_topic_subscribers("live.trades.ACME")
    registry.unregister(other)
    assert not registry.has_topic_subscribers("live.trades.ACME")
    reader.peer_gone.set()
    await asyncio.gather(*runs)
    assert stuck.closed_with is not None
    assert stuck.closed_with[0] == SLOW_CLIENT_CLOSE_CODE


class GatedSink(RecordingSink):
    """A client whose sends wait until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.frames: list[str] = []

    async def send_text(self, text: str) -> None:
        await self.gate.wait()
        self.frames.append(text)
        await super().send_text(text)


async def test_a_batching_connection_sends_what_queued_up_as_one_array_in_order():
    registry = ConnectionRegistry(queue_size=8)
    sink = GatedSink()
    connection = registry.register("alice", sink, batch=True)
    run = asyncio.create_task(connection.run())
    registry.subscribe(connection, "live.trades.ACME")
    await settle()  # the sender now waits on the gate with the hello in hand
    for n in range(3):
        registry.publish_topic("live.trades.ACME", json.dumps({"n": n}))
    sink.gate.set()

    received = await sink.wait_for(2)
    assert received == [{"type": "hello", "user_id": "alice"}, [{"n": 0}, {"n": 1}, {"n": 2}]]
    registry.publish_topic("live.trades.ACME", json.dumps({"n": 3}))
    assert (await sink.wait_for(3))[-1] == {"n": 3}  # alone in the queue: sent as itself
    sink.peer_gone.set()
    await run
