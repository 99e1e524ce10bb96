"""gRPC server and channel factories.

Both take the service's TLS settings: with certificates configured the server
requires client certificates (mutual TLS), authorizes each call by the caller's
SPIFFE identity (see authz.py), and channels present theirs. Both follow
certificate rotation without a restart. The
interceptors continue the caller's trace, record RED metrics and turn an
unexpected exception into INTERNAL with a log line instead of a stack trace
on the wire.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from opentelemetry import trace

from trademesh_common.authz import AuthorizationInterceptor, AuthorizationPolicy
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


class CredentialFiles:
    """A certificate, its key and the CA bundle, re-read when the files change.

    Rotation replaces the files (cert-manager's Secret volume, the local CA tool);
    `changed()` is a cheap stat check, and `read()` never pairs a certificate with
    the key of another generation.
    """

    def __init__(self, tls: TlsSettings) -> None:
        assert tls.cert_file and tls.key_file and tls.ca_file, "TLS settings are incomplete"
        self._paths = (Path(tls.cert_file), Path(tls.key_file), Path(tls.ca_file))
        self._seen: tuple[tuple[int, int], ...] | None = None

    def _stamp(self) -> tuple[tuple[int, int], ...]:
        stats = [os.stat(path) for path in self._paths]  # follows the Secret's symlinks
        return tuple((st.st_ino, st.st_mtime_ns) for st in stats)

    def changed(self) -> bool:
        try:
            return self._stamp() != self._seen
        except OSError:  # mid-swap: keep what works until the new files are all there
            return False

    def read(self) -> tuple[bytes, bytes, bytes]:
        """(certificate chain, private key, CA bundle) of one generation."""
        cert_path, key_path, ca_path = self._paths
        for _ in range(10):
            stamp = self._stamp()
            cert, key, ca = cert_path.read_bytes(), key_path.read_bytes(), ca_path.read_bytes()
            if self._stamp() == stamp:
                self._seen = stamp
                return cert, key, ca
        raise RuntimeError(f"{cert_path} keeps changing while being read")


def server_credentials(tls: TlsSettings) -> grpc.ServerCredentials:
    """Client certificates required; a rotated certificate is served from the next handshake."""
    files = CredentialFiles(tls)

    def configuration() -> grpc.ServerCertificateConfiguration:
        cert, key, ca = files.read()
        return grpc.ssl_server_certificate_configuration([(key, cert)], root_certificates=ca)

    def fetch() -> grpc.ServerCertificateConfiguration | None:
        # Runs on each new connection, before its handshake: None keeps the current pair.
        if not files.changed():
            return None
        try:
            config = configuration()
        except (OSError, RuntimeError):
            log.exception("cannot reload the TLS certificate; keeping the current one")
            return None
        log.info("serving a reloaded TLS certificate", extra={"cert": str(tls.cert_file)})
        return config

    return grpc.dynamic_ssl_server_credentials(
        configuration(), fetch, require_client_authentication=True
    )


def channel_credentials(tls: TlsSettings) -> grpc.ChannelCredentials:
    cert, key, ca = CredentialFiles(tls).read()
    return grpc.ssl_channel_credentials(
        root_certificates=ca, private_key=key, certificate_chain=cert
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
    """A grpc.aio server with health checking, observability, mutual TLS and authorization.

    With TLS settings, plaintext and certificate-less clients are refused at the
    handshake and each call must be allowed by `policy` (default: the file named by
    $TRADEMESH_AUTHZ_POLICY_FILE, else the repository's policy).
    """

    def __init__(
        self,
        host: str,
        port: int,
        tls: TlsSettings,
        policy: AuthorizationPolicy | None = None,
    ) -> None:
        interceptors: list[grpc.aio.ServerInterceptor] = [_ObservingServerInterceptor()]
        if tls.enabled:
            # Identities exist only with mutual TLS; the policy then applies to every call.
            interceptors.append(AuthorizationInterceptor(policy or AuthorizationPolicy.load()))
        self.server = grpc.aio.server(
            interceptors=interceptors,
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
    """A channel to `target`; with TLS, one that follows certificate rotation."""
    all_options = [*_CHANNEL_OPTIONS, *options]
    if tls.enabled:
        return ReloadingChannel(target, tls, all_options)  # type: ignore[return-value]
    return grpc.aio.insecure_channel(
        target, options=all_options, interceptors=[_PropagatingClientInterceptor()]
    )


class _Reloading:
    """A multi-callable that calls through the owner's current channel."""

    def __init__(self, owner: ReloadingChannel, kind: str, method: str, kwargs: Any) -> None:
        self._owner, self._kind, self._method, self._kwargs = owner, kind, method, kwargs
        self._generation = -1
        self._callable: Any = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        channel, generation = self._owner.current()
        if generation != self._generation:
            factory = getattr(channel, self._kind)
            self._callable = factory(self._method, **self._kwargs)
            self._generation = generation
        return self._callable(*args, **kwargs)


class ReloadingChannel:
    """A secure channel that swaps itself for a new one when the certificate files change.

    gRPC Python fixes channel credentials at creation, so a rotated client certificate
    needs a new channel. Stubs built on this object keep working across swaps; calls
    in flight finish on the old channel, which closes after a grace period.
    """

    CHECK_INTERVAL_SECONDS = 1.0
    CLOSE_GRACE_SECONDS = 30.0

    def __init__(self, target: str, tls: TlsSettings, options: Sequence[tuple[str, Any]]) -> None:
        self._target, self._options = target, list(options)
        self._files = CredentialFiles(tls)
        self._generation = 0
        self._channel = self._open()
        self._next_check = time.monotonic() + self.CHECK_INTERVAL_SECONDS
        self._retired: set[asyncio.Task[None]] = set()

    def _open(self) -> grpc.aio.Channel:
        cert, key, ca = self._files.read()
        credentials = grpc.ssl_channel_credentials(
            root_certificates=ca, private_key=key, certificate_chain=cert
        )
        return grpc.aio.secure_channel(
            self._target,
            credentials,
            options=self._options,
            interceptors=[_PropagatingClientInterceptor()],
        )

    def current(self) -> tuple[grpc.aio.Channel, int]:
        now = time.monotonic()
        if now >= self._next_check:
            self._next_check = now + self.CHECK_INTERVAL_SECONDS
            if self._files.changed():
                self._swap()
        return self._channel, self._generation

    def _swap(self) -> None:
        try:
            fresh = self._open()
        except (OSError, RuntimeError):
            log.exception("cannot reload the client certificate; keeping the current one")
            return
        old, self._channel = self._channel, fresh
        self._generation += 1
        log.info("reconnecting with a reloaded client certificate", extra={"to": self._target})
        task = asyncio.get_running_loop().create_task(self._retire(old))
        self._retired.add(task)
        task.add_done_callback(self._retired.discard)

    async def _retire(self, channel: grpc.aio.Channel) -> None:
        await channel.close(grace=self.CLOSE_GRACE_SECONDS)

    def unary_unary(self, method: str, **kwargs: Any) -> Any:
        return _Reloading(self, "unary_unary", method, kwargs)

    def unary_stream(self, method: str, **kwargs: Any) -> Any:
        return _Reloading(self, "unary_stream", method, kwargs)

    def stream_unary(self, method: str, **kwargs: Any) -> Any:
        return _Reloading(self, "stream_unary", method, kwargs)

    def stream_stream(self, method: str, **kwargs: Any) -> Any:
        return _Reloading(self, "stream_stream", method, kwargs)

    async def channel_ready(self) -> None:
        await self.current()[0].channel_ready()

    def get_state(self, try_to_connect: bool = False) -> grpc.ChannelConnectivity:
        return self.current()[0].get_state(try_to_connect)

    async def close(self, grace: float | None = None) -> None:
        for task in list(self._retired):
            task.cancel()
        await self._channel.close(grace)

    async def __aenter__(self) -> ReloadingChannel:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
