"""gRPC server and channel factories.

Both take the service's TLS settings: with certificates configured the server
requires client certificates (mutual TLS) and channels present theirs. The
interceptors continue the caller's trace, record RED metrics and turn an
unexpected exception into INTERNAL with a log line instead of a stack trace
on the wire.
"""

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from opentelemetry import trace

from trademesh_common.config import TlsSettings
from trademesh_common.metrics import GRPC_SERVER_DURATION, GRPC_SERVER_REQUESTS
from trademesh_common.telemetry import context_from_metadata, inject_headers

log = logging.getLogger(__name__)
_tracer = trace.get_tracer("trademesh.grpc")

# Keepalives keep idle channels between services from being cut by proxies.
_CHANNEL_OPTIONS = [
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.http2.max_pings_without_data", 0),
]


def _read(path: Any) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def server_credentials(tls: TlsSettings) -> grpc.ServerCredentials:
    return grpc.ssl_server_credentials(
        [(_read(tls.key_file), _read(tls.cert_file))],
        root_certificates=_read(tls.ca_file),
        require_client_auth=True,
    )


def channel_credentials(tls: TlsSettings) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        root_certificates=_read(tls.ca_file),
        private_key=_read(tls.key_file),
        certificate_chain=_read(tls.cert_file),
    )


class _ObservingServerInterceptor(grpc.aio.ServerInterceptor):
    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        method: str = handler_call_details.method
        metadata = handler_call_details.invocation_metadata
        inner = handler.unary_unary

        async def observed(request: Any, context: grpc.aio.ServicerContext) -> Any:
            start = time.perf_counter()
            code = grpc.StatusCode.OK
            with _tracer.start_as_current_span(
                method.lstrip("/"),
                context=context_from_metadata(metadata),
                kind=trace.SpanKind.SERVER,
            ) as span:
                span.set_attribute("rpc.system", "grpc")
                try:
                    return await inner(request, context)
                except grpc.aio.AbortError:
                    code = context.code() or grpc.StatusCode.UNKNOWN
                    raise
                except Exception:
                    code = grpc.StatusCode.INTERNAL
                    log.exception("unhandled error in gRPC handler", extra={"method": method})
                    await context.abort(grpc.StatusCode.INTERNAL, "internal error")
                finally:
                    span.set_attribute("rpc.grpc.status_code", code.value[0])
                    GRPC_SERVER_REQUESTS.labels(method, code.name).inc()
                    GRPC_SERVER_DURATION.labels(method).observe(time.perf_counter() - start)

        return grpc.unary_unary_rpc_method_handler(
            observed,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


class _PropagatingClientInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Any],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        method = client_call_details.method
        name = method.decode() if isinstance(method, bytes) else method
        with _tracer.start_as_current_span(name.lstrip("/"), kind=trace.SpanKind.CLIENT):
            metadata = grpc.aio.Metadata(*(client_call_details.metadata or ()))
            for key, value in inject_headers().items():
                metadata.add(key, value)
            details = grpc.aio.ClientCallDetails(
                client_call_details.method,
                client_call_details.timeout,
                metadata,
                client_call_details.credentials,
                client_call_details.wait_for_ready,
            )
            return await continuation(details, request)


class GrpcServer:
    """A grpc.aio server with health checking, observability and (m)TLS."""

    def __init__(self, host: str, port: int, tls: TlsSettings) -> None:
        self.server = grpc.aio.server(
            interceptors=[_ObservingServerInterceptor()],
            options=[("grpc.so_reuseport", 0)],
        )
        self.health = health_aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        address = f"{host}:{port}"
        if tls.enabled:
            self.port = self.server.add_secure_port(address, server_credentials(tls))
        else:
            self.port = self.server.add_insecure_port(address)

    async def start(self) -> None:
        await self.server.start()
        await self.health.set("", health_pb2.HealthCheckResponse.SERVING)

    async def stop(self, grace: float = 5.0) -> None:
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)


def create_channel(
    target: str, tls: TlsSettings, options: Sequence[tuple[str, Any]] = ()
) -> grpc.aio.Channel:
    interceptors = [_PropagatingClientInterceptor()]
    all_options = [*_CHANNEL_OPTIONS, *options]
    if tls.enabled:
        return grpc.aio.secure_channel(
            target, channel_credentials(tls), options=all_options, interceptors=interceptors
        )
    return grpc.aio.insecure_channel(target, options=all_options, interceptors=interceptors)
