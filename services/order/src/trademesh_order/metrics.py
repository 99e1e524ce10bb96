"""Order entry's business metrics, beside the shared RED metrics in the default registry."""

from prometheus_client import Counter, Histogram

from trademesh_common.metrics import LATENCY_BUCKETS

ORDERS_ACCEPTED = Counter(
    "trademesh_order_orders_accepted_total",
    "Orders accepted (validated, reserved and queued for matching), by side and type.",
    ["side", "type"],
)
ORDERS_REJECTED = Counter(
    "trademesh_order_orders_rejected_total",
    "New orders refused before reaching matching, by reason category"
    " (a field name, price_band, insufficient_cash or insufficient_position).",
    ["category"],
)
FILLS_APPLIED = Counter(
    "trademesh_order_fills_applied_total",
    "Fills applied to orders, cash and positions, by side.",
    ["side"],
)
EXECUTION_APPLY_SECONDS = Histogram(
    "trademesh_order_execution_apply_seconds",
    "Time to apply one batch of execution reports in PostgreSQL, commit included.",
    buckets=LATENCY_BUCKETS,
)
EXECUTION_LAG_SECONDS = Histogram(
    "trademesh_order_execution_lag_seconds",
    "From matching's report timestamp to its application here (includes clock skew).",
    buckets=(*LATENCY_BUCKETS, 10.0, 30.0, 60.0),
)
ORDER_TO_FILL_SECONDS = Histogram(
    "trademesh_order_order_to_fill_seconds",
    "From an order's acceptance to a taker fill of it applied here (the trader sees it then).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
EXECUTIONS_IGNORED = Counter(
    "trademesh_order_executions_ignored_total",
    "Execution reports that were illegal for the order's state and left it unchanged.",
    ["type"],
)
