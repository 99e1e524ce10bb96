"""OpenTelemetry set-up and W3C trace-context propagation over HTTP, gRPC and Kafka.

HTTP carries context in its headers (FastAPI middleware in `http.py`), gRPC in
its metadata (interceptors in `rpc.py`) and Kafka in record headers (the
helpers below, used by `kafka.py`). One trace thus follows an order from the
gateway through order entry and matching back to the WebSocket push.
"""

from collections.abc import Iterable, Mapping, Sequence

from opentelemetry import context, propagate, trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

KafkaHeaders = list[tuple[str, bytes]]


def configure_tracing(service: str, otlp_endpoint: str | None) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if otlp_endpoint:
        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint, insecure=True))
        )
    trace.set_tracer_provider(provider)
    return provider


def inject_headers(carrier: dict[str, str] | None = None) -> dict[str, str]:
    """Returns `carrier` with the current context's `traceparent` (and `tracestate`)."""
    carrier = {} if carrier is None else carrier
    propagate.inject(carrier)
    return carrier


def kafka_headers() -> KafkaHeaders:
    return [(key, value.encode()) for key, value in inject_headers().items()]


def context_from_kafka_headers(
    headers: Sequence[tuple[str, bytes | None]] | None,
) -> context.Context:
    carrier = {key: value.decode() for key, value in headers or () if value is not None}
    return propagate.extract(carrier)


def context_from_metadata(metadata: Iterable[tuple[str, str | bytes]] | None) -> context.Context:
    carrier: Mapping[str, str] = {
        key: value if isinstance(value, str) else value.decode() for key, value in metadata or ()
    }
    return propagate.extract(carrier)


def current_trace_id() -> str | None:
    span = trace.get_current_span().get_span_context()
    return f"{span.trace_id:032x}" if span.is_valid else None
