"""The market service's business metrics, beside the shared RED metrics in the default registry."""

from prometheus_client import Histogram

UPDATE_DELAY_SECONDS = Histogram(
    "trademesh_market_update_delay_seconds",
    "Per marketdata event applied: from its creation in matching to quotes, depth and the"
    " live update carrying it (includes clock skew). The freshness SLO's bound is 1.0.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
