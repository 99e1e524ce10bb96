"""Book snapshots and trades in Redis.

A snapshot holds a partition's engine state and the offset it is valid at;
recovery loads it and replays the `orders` topic from there up to the
consumer group's committed offset.
"""

from typing import Any

import orjson
import redis

from trademesh.events.v1 import marketdata_pb2

SIDE_NAMES = {1: "buy", 2: "sell"}


def snapshot_key(topic: str, partition: int) -> str:
    return f"matching:snapshot:{topic}:{partition}"


def trade_key(trade_id: str) -> str:
    return f"trade:{trade_id}"


class SnapshotStore:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def save(self, topic: str, partition: int, snapshot: dict[str, Any]) -> None:
        self._redis.set(snapshot_key(topic, partition), orjson.dumps(snapshot))

    def load(self, topic: str, partition: int) -> dict[str, Any] | None:
        raw = self._redis.get(snapshot_key(topic, partition))
        return None if raw is None else orjson.loads(raw)


def trade_record(trade: marketdata_pb2.Trade) -> bytes:
    return orjson.dumps(
        {
            "trade_id": trade.trade_id,
            "symbol": trade.symbol,
            "price_ticks": trade.price_ticks,
            "quantity": trade.quantity,
            "aggressor_side": SIDE_NAMES.get(trade.aggressor_side, ""),
            "maker_order_id": trade.maker_order_id,
            "taker_order_id": trade.taker_order_id,
            "created_at_us": trade.created_at_us,
        }
    )


def store_trades(client: redis.Redis, trades: list[marketdata_pb2.Trade]) -> None:
    """Writes trades before their transaction commits; ids are deterministic, so a
    retried batch overwrites them with the same content."""
    if not trades:
        return
    # One MSET, not a SET per trade: one reply to parse instead of one per trade, which
    # was a tenth of matching's time under a backlog.
    client.mset({trade_key(trade.trade_id): trade_record(trade) for trade in trades})
