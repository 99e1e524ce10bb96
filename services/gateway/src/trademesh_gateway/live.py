"""Live market and social updates: Redis pub/sub `live.<channel>.<SYMBOL>` -> WebSockets.

Services publish JSON objects to `live.<channel>.<SYMBOL>` (market: quotes, trades,
book, candles; social: posts). Each gateway process pattern-subscribes `live.*`
once and forwards each update to its own connections subscribed to that channel
and symbol, as `{"type": <channel>, "symbol": <SYMBOL>, "data": <the object>}`.
Pub/sub has no history: a client reads the current state over REST and then
follows the updates.
"""

import asyncio
import json
import logging
import re

import redis.asyncio as redis

from trademesh_gateway.fanout import ConnectionRegistry
from trademesh_gateway.live_quotes import LiveQuoteCache

log = logging.getLogger(__name__)

LIVE_PATTERN = "live.*"
_QUOTES_PREFIX = "live.quotes."
# The channels a client may subscribe to; anything else on Redis is ignored.
CHANNELS = frozenset({"quotes", "trades", "book", "candles", "posts"})
_SYMBOL = re.compile(r"^[A-Z0-9._-]{1,32}$")
RECONNECT_DELAY_SECONDS = 1.0


def topic_for(channel: str, symbol: str) -> str:
    return f"live.{channel}.{symbol}"


def valid_symbol(symbol: str) -> bool:
    return _SYMBOL.fullmatch(symbol) is not None


def client_message(topic: str, payload: bytes | str) -> str | None:
    """The message clients get for one Redis update; None for one that is not ours to pass on
    (a channel outside the allow-list, or a payload that is not a JSON object)."""
    prefix, _, rest = topic.partition(".")
    channel, _, symbol = rest.partition(".")
    if prefix != "live" or channel not in CHANNELS or not valid_symbol(symbol):
        return None
    text = payload.decode() if isinstance(payload, bytes) else payload
    try:
        if not isinstance(json.loads(text), dict):
            return None
    except ValueError:
        return None
    # Built by hand: the payload is forwarded as is rather than parsed and re-encoded.
    return f'{{"type":"{channel}","symbol":"{symbol}","data":{text}}}'


def relay_message(registry: ConnectionRegistry, topic: str, payload: bytes | str) -> int:
    """Forwards one Redis update to this process's subscribers; returns how many took it."""
    if not registry.has_topic_subscribers(topic):
        return 0
    text = client_message(topic, payload)
    if text is None:
        log.warning("ignoring a malformed live update", extra={"channel": topic})
        return 0
    return registry.publish_topic(topic, text)


class LiveRelay:
    """One pattern subscription per gateway process, relayed until cancelled. If Redis goes
    away it subscribes again once Redis is back (updates in between are lost, as they
    would be for any subscriber of pub/sub)."""

    def __init__(
        self,
        client: redis.Redis,
        registry: ConnectionRegistry,
        quotes: LiveQuoteCache | None = None,
    ) -> None:
        """`quotes`, when given, is fed every quote update (it answers quote reads)."""
        self._client = client
        self._registry = registry
        self._quotes = quotes
        self._subscribed = False

    @property
    def subscribed(self) -> bool:
        """Readiness: updates published while not subscribed are not seen."""
        return self._subscribed

    async def run(self) -> None:
        while True:
            try:
                await self._relay()
            except (redis.ConnectionError, redis.TimeoutError) as error:
                log.warning("live updates: redis unavailable", extra={"error": repr(error)})
            await asyncio.sleep(RECONNECT_DELAY_SECONDS)

    async def _relay(self) -> None:
        pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.psubscribe(LIVE_PATTERN)
            self._subscribed = True
            quotes = self._quotes
            if quotes is not None:
                quotes.feed_connected()
            async for message in pubsub.listen():
                if message["type"] != "pmessage":
                    continue
                channel = message["channel"]
                topic = channel.decode() if isinstance(channel, bytes) else channel
                if quotes is not None and topic.startswith(_QUOTES_PREFIX):
                    quotes.observe(topic[len(_QUOTES_PREFIX) :], message["data"])
                relay_message(self._registry, topic, message["data"])
        finally:
            self._subscribed = False
            if self._quotes is not None:
                # Updates from here on are missed: the cache must not outlive the feed.
                self._quotes.feed_lost()
            await pubsub.aclose()
