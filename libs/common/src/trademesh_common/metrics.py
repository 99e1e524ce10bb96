"""Prometheus metrics shared by every service: RED per gRPC method and HTTP route.

Names follow Prometheus conventions (base units, `_total` counters); services
add their business metrics next to their domain code with the same registry.
Latency histograms carry the trace id of the observation as an exemplar; only
the OpenMetrics exposition has exemplars, so `/metrics` serves it to scrapers
that ask for it (Prometheus does) and the classic text format otherwise.
"""

from opentelemetry import trace
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram
from prometheus_client import generate_latest as text_exposition
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS_TYPE
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_exposition

# Buckets reach down to 0.5 ms: most calls inside the mesh are a few ms.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

GRPC_SERVER_REQUESTS = Counter(
    "trademesh_grpc_server_requests_total",
    "gRPC requests handled, by method and status code.",
    ["method", "code"],
)
GRPC_SERVER_DURATION = Histogram(
    "trademesh_grpc_server_duration_seconds",
    "gRPC request handling time, by method.",
    ["method"],
    buckets=LATENCY_BUCKETS,
)
HTTP_REQUESTS = Counter(
    "trademesh_http_requests_total",
    "HTTP requests handled, by route template, method and status code.",
    ["route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "trademesh_http_request_duration_seconds",
    "HTTP request handling time, by route template and method.",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
)
KAFKA_RECORDS_CONSUMED = Counter(
    "trademesh_kafka_records_consumed_total",
    "Kafka records consumed, by topic and outcome (ok, dead_lettered).",
    ["topic", "outcome"],
)


KAFKA_CONSUMER_LAG = Gauge(
    "trademesh_kafka_consumer_lag_records",
    "Records between a consumer group's position and the partition's high watermark.",
    ["group", "topic", "partition"],
)


def trace_exemplar(span: trace.Span | None = None) -> dict[str, str] | None:
    """`{"trace_id": ...}` for the given (default: current) span when it is sampled."""
    context = (span or trace.get_current_span()).get_span_context()
    if not context.is_valid or not context.trace_flags.sampled:
        return None
    return {"trace_id": f"{context.trace_id:032x}"}


def exposition(accept: str = "") -> tuple[bytes, str]:
    if "application/openmetrics-text" in accept:
        return openmetrics_exposition(REGISTRY), OPENMETRICS_TYPE
    return text_exposition(REGISTRY), CONTENT_TYPE_LATEST
