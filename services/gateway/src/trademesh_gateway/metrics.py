"""The gateway's business metrics (HTTP RED metrics come from the shared middleware)."""

from prometheus_client import Counter, Gauge

WEBSOCKET_CLIENTS = Gauge(
    "trademesh_websocket_clients",
    "WebSocket connections currently subscribed to order updates.",
)
WEBSOCKET_MESSAGES_PUSHED = Counter(
    "trademesh_websocket_messages_pushed_total",
    "Messages written to WebSocket clients.",
)
WEBSOCKET_SLOW_CLIENTS_DROPPED = Counter(
    "trademesh_websocket_slow_clients_dropped_total",
    "WebSocket clients disconnected because their send queue filled up.",
)
QUOTE_CACHE_READS = Counter(
    "trademesh_quote_cache_reads_total",
    "Quote reads by outcome: hit (answered from the live quote cache), miss (GetQuote "
    "sent), shared (waited on a GetQuote another read had sent).",
    ["result"],
)
