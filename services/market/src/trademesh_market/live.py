"""Live updates on Redis pub/sub, one channel per kind and symbol: `live.<kind>.<SYMBOL>`.

The convention is shared by every service that pushes to clients (the gateway
pattern-subscribes `live.*` and forwards to the WebSockets subscribed to that
kind and symbol). Payloads are JSON objects.
"""

import json
from typing import Any

from redis.asyncio.client import Pipeline

QUOTES = "quotes"
TRADES = "trades"
BOOK = "book"
CANDLES = "candles"


def channel(kind: str, symbol: str) -> str:
    return f"live.{kind}.{symbol}"


def publish(pipeline: Pipeline, kind: str, symbol: str, payload: dict[str, Any]) -> None:
    """Queues one update on a pipeline (sent with the pipeline's other commands)."""
    pipeline.publish(channel(kind, symbol), json.dumps(payload, separators=(",", ":")))
