"""Fan-out of pushed messages to WebSocket connections: by user (their own orders) and by
live topic (`live.<channel>.<SYMBOL>`, e.g. every client watching AAPL's quotes).

Each connection owns a bounded queue drained by its own sender task, so publishing
never waits on a socket: one client that stops reading fills only its own queue,
and is then disconnected (close code 1013, "try again later") instead of slowing
everyone else or growing the gateway's memory without bound.
"""

import asyncio
import contextlib
import logging
from typing import Protocol

from trademesh_gateway.metrics import (
    WEBSOCKET_CLIENTS,
    WEBSOCKET_MESSAGES_PUSHED,
    WEBSOCKET_SLOW_CLIENTS_DROPPED,
)
from trademesh_gateway.schemas.push import HelloMessage

log = logging.getLogger(__name__)

SLOW_CLIENT_CLOSE_CODE = 1013
SLOW_CLIENT_CLOSE_REASON = "too slow: send queue full, reconnect and resync"
# A client too slow to read its messages may be too slow to read the close frame too.
DEFAULT_CLOSE_TIMEOUT_SECONDS = 2.0


class MessageSink(Protocol):
    """The transport side of one connection (a WebSocket in production, a fake in tests)."""

    async def send_text(self, text: str) -> None: ...

    async def wait_closed(self) -> None:
        """Returns once the peer has gone away."""
        ...

    async def close(self, code: int, reason: str) -> None: ...


class ClientConnection:
    def __init__(
        self,
        user_id: str,
        sink: MessageSink,
        queue_size: int,
        close_timeout_seconds: float = DEFAULT_CLOSE_TIMEOUT_SECONDS,
        batch: bool = False,
    ) -> None:
        """With `batch`, messages that queued up while a send was in progress go out
        together as one frame holding a JSON array: one write instead of many, so a busy
        connection catches up instead of falling further behind."""
        self.user_id = user_id
        self._batch = batch
        self._sink = sink
        self._close_timeout = close_timeout_seconds
        self._queue: asyncio.Queue[str] = asyncio.Queue(queue_size)
        self._dropped = asyncio.Event()
        # The live topics this connection follows (the registry keeps the reverse index).
        self.topics: set[str] = set()

    def offer(self, text: str) -> bool:
        """Queues a message without waiting; False when the queue is full."""
        try:
            self._queue.put_nowait(text)
        except asyncio.QueueFull:
            return False
        return True

    def drop(self) -> None:
        """Ends the connection from outside; `run()` then closes it as too slow."""
        self._dropped.set()

    @property
    def dropped(self) -> bool:
        return self._dropped.is_set()

    async def run(self) -> None:
        """Sends queued messages until the peer leaves, a send fails or the registry drops it."""
        sender = asyncio.create_task(self._send_queued())
        peer_gone = asyncio.create_task(self._sink.wait_closed())
        dropped = asyncio.create_task(self._dropped.wait())
        tasks = (sender, peer_gone, dropped)
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            peer_left = peer_gone.done()
        finally:
            for task in tasks:
                task.cancel()
            # Also collects a failed send (the peer vanished mid-write): nothing left to do.
            await asyncio.gather(*tasks, return_exceptions=True)
        if self.dropped and not peer_left:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    self._sink.close(SLOW_CLIENT_CLOSE_CODE, SLOW_CLIENT_CLOSE_REASON),
                    self._close_timeout,
                )

    async def _send_queued(self) -> None:
        queue = self._queue
        while True:
            text = await queue.get()
            if not self._batch or queue.empty():
                await self._sink.send_text(text)
                WEBSOCKET_MESSAGES_PUSHED.inc()
                continue
            batch = [text]
            while not queue.empty():
                batch.append(queue.get_nowait())
            await self._sink.send_text(f"[{','.join(batch)}]")
            WEBSOCKET_MESSAGES_PUSHED.inc(len(batch))


class ConnectionRegistry:
    """user id -> that user's live connections on this gateway process."""

    def __init__(
        self, queue_size: int, close_timeout_seconds: float = DEFAULT_CLOSE_TIMEOUT_SECONDS
    ) -> None:
        self._queue_size = queue_size
        self._close_timeout = close_timeout_seconds
        self._by_user: dict[str, set[ClientConnection]] = {}
        self._by_topic: dict[str, set[ClientConnection]] = {}

    def register(self, user_id: str, sink: MessageSink, batch: bool = False) -> ClientConnection:
        connection = ClientConnection(
            user_id, sink, self._queue_size, self._close_timeout, batch=batch
        )
        self._by_user.setdefault(user_id, set()).add(connection)
        WEBSOCKET_CLIENTS.inc()
        # Queued after registering: every update published from now on follows the hello.
        connection.offer(HelloMessage(user_id=user_id).model_dump_json())
        return connection

    def unregister(self, connection: ClientConnection) -> None:
        """Idempotent: a dropped connection is unregistered again when its handler ends."""
        connections = self._by_user.get(connection.user_id)
        if connections is None or connection not in connections:
            return
        connections.remove(connection)
        if not connections:
            del self._by_user[connection.user_id]
        for topic in list(connection.topics):
            self.unsubscribe(connection, topic)
        WEBSOCKET_CLIENTS.dec()

    def subscribe(self, connection: ClientConnection, topic: str) -> None:
        """Idempotent. Only for a registered connection (unregister undoes it)."""
        connection.topics.add(topic)
        self._by_topic.setdefault(topic, set()).add(connection)

    def unsubscribe(self, connection: ClientConnection, topic: str) -> None:
        """Idempotent."""
        connection.topics.discard(topic)
        subscribers = self._by_topic.get(topic)
        if subscribers is None:
            return
        subscribers.discard(connection)
        if not subscribers:
            del self._by_topic[topic]

    def has_topic_subscribers(self, topic: str) -> bool:
        return topic in self._by_topic

    def has_subscribers(self, user_id: str) -> bool:
        return user_id in self._by_user

    @property
    def connection_count(self) -> int:
        return sum(len(connections) for connections in self._by_user.values())

    def publish(self, user_id: str, text: str) -> int:
        """Queues `text` for each of the user's connections; returns how many took it."""
        delivered = 0
        for connection in list(self._by_user.get(user_id, ())):
            if connection.offer(text):
                delivered += 1
            else:
                self._drop_slow(connection)
        return delivered

    def publish_topic(self, topic: str, text: str) -> int:
        """Queues `text` for every connection subscribed to `topic`; returns how many took it."""
        subscribers = self._by_topic.get(topic)
        if not subscribers:
            return 0
        delivered = 0
        slow = []
        for connection in subscribers:
            if connection.offer(text):
                delivered += 1
            else:
                slow.append(connection)
        for connection in slow:  # after the loop: dropping changes the set being walked
            self._drop_slow(connection)
        return delivered

    def _drop_slow(self, connection: ClientConnection) -> None:
        self.unregister(connection)
        connection.drop()
        WEBSOCKET_SLOW_CLIENTS_DROPPED.inc()
        log.warning(
            "dropped slow websocket client",
            extra={"user_id": connection.user_id, "queue_size": self._queue_size},
        )
