"""Live topics: Redis update -> client message, and the client's subscription requests."""

import json

import pytest

from trademesh_gateway.fanout import ConnectionRegistry
from trademesh_gateway.live import client_message, relay_message
from trademesh_gateway.subscriptions import (
    MAX_SUBSCRIPTIONS_PER_CONNECTION,
    handle_client_text,
)


class NullSink:
    async def send_text(self, text: str) -> None:
        pass

    async def wait_closed(self) -> None:
        pass

    async def close(self, code: int, reason: str) -> None:
        pass


def test_an_update_is_wrapped_with_its_channel_and_symbol_without_reencoding():
    text = client_message("live.quotes.AAPL", b'{"last": "151.20",  "volume": 3}')
    assert text == '{"type":"quotes","symbol":"AAPL","data":{"last": "151.20",  "volume": 3}}'
    assert json.loads(text)["data"]["volume"] == 3


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        ("live.secrets.AAPL", b"{}"),  # not an allowed channel
        ("live.quotes.aapl", b"{}"),  # symbols are upper-case
        ("live.quotes", b"{}"),
        ("other.quotes.AAPL", b"{}"),
        ("live.quotes.AAPL", b"[1, 2]"),  # not an object
        ("live.quotes.AAPL", b'{"unterminated'),
    ],
)
def test_updates_outside_the_contract_are_not_passed_on(topic, payload):
    assert client_message(topic, payload) is None


def subscribe(registry, connection, **fields):
    return json.loads(handle_client_text(registry, connection, json.dumps(fields)))


def test_subscribe_acks_normalises_the_symbol_and_routes_updates():
    registry = ConnectionRegistry(queue_size=16)
    connection = registry.register("alice", NullSink())
    ack = subscribe(registry, connection, op="subscribe", channel="posts", symbol="aapl")
    assert ack == {"type": "subscribed", "channel": "posts", "symbol": "AAPL"}
    assert relay_message(registry, "live.posts.AAPL", b'{"id": 1}') == 1
    assert relay_message(registry, "live.posts.MSFT", b'{"id": 2}') == 0
    ack = subscribe(registry, connection, op="unsubscribe", channel="posts", symbol="AAPL")
    assert ack == {"type": "unsubscribed", "channel": "posts", "symbol": "AAPL"}
    assert relay_message(registry, "live.posts.AAPL", b'{"id": 3}') == 0


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("not json", "bad_request"),
        ("[]", "bad_request"),
        ('{"op": "watch", "channel": "quotes", "symbol": "AAPL"}', "bad_request"),
        ('{"op": "subscribe", "channel": "quotes"}', "bad_request"),
        ('{"op": "subscribe", "channel": "quotes", "symbol": "AAPL", "x": 1}', "bad_request"),
        ('{"op": "subscribe", "channel": "orders", "symbol": "AAPL"}', "unknown_channel"),
        ('{"op": "subscribe", "channel": "quotes", "symbol": "A A"}', "bad_symbol"),
        ('{"op": "subscribe", "channel": "quotes", "symbol": ""}', "bad_symbol"),
        ("x" * 2000, "too_large"),
    ],
)
def test_bad_requests_get_an_error_and_change_nothing(text, code):
    registry = ConnectionRegistry(queue_size=16)
    connection = registry.register("alice", NullSink())
    answer = json.loads(handle_client_text(registry, connection, text))
    assert answer["type"] == "error"
    assert answer["code"] == code
    assert answer["message"]
    assert connection.topics == set()


def test_subscriptions_per_connection_are_bounded():
    registry = ConnectionRegistry(queue_size=16)
    connection = registry.register("alice", NullSink())
    for n in range(MAX_SUBSCRIPTIONS_PER_CONNECTION):
        subscribe(registry, connection, op="subscribe", channel="quotes", symbol=f"S{n}")
    refused = subscribe(registry, connection, op="subscribe", channel="quotes", symbol="ONE.MORE")
    assert refused["code"] == "too_many_subscriptions"
    again = subscribe(registry, connection, op="subscribe", channel="quotes", symbol="S0")
    assert again["type"] == "subscribed"  # re-subscribing is not a new subscription
