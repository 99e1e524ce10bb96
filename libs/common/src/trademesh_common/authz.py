"""Service-to-service authorization: which peer identity may call which gRPC method.

The identity is the SPIFFE ID in the URI SAN of the peer's client certificate,
already verified by the mutual TLS handshake. The policy is data (a YAML file the
chart mounts, see authz_policy.yaml for the repository's copy) and denies every
method it does not name.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import grpc
import yaml

log = logging.getLogger(__name__)

ANY_PEER = "*"
POLICY_FILE_ENV = "TRADEMESH_AUTHZ_POLICY_FILE"
NAMESPACE_ENV = "TRADEMESH_AUTHZ_NAMESPACE"
DEFAULT_NAMESPACE = "trademesh"


class PolicyError(ValueError):
    """The policy file is not a mapping of method names to lists of identities."""


@dataclass(frozen=True)
class AuthorizationPolicy:
    # Full method name ("/pkg.Service/Method") or service wildcard ("/pkg.Service/*").
    rules: Mapping[str, frozenset[str]]

    @classmethod
    def from_mapping(cls, data: Any, namespace: str = DEFAULT_NAMESPACE) -> AuthorizationPolicy:
        methods = data.get("methods") if isinstance(data, Mapping) else None
        if not isinstance(methods, Mapping):
            raise PolicyError("the policy needs a `methods` mapping")
        rules: dict[str, frozenset[str]] = {}
        for method, callers in methods.items():
            if not isinstance(method, str) or not method.startswith("/") or method.count("/") != 2:
                raise PolicyError(f"not a gRPC method name: {method!r}")
            if not isinstance(callers, list) or not all(isinstance(c, str) for c in callers):
                raise PolicyError(f"{method}: callers must be a list of strings")
            rules[method] = frozenset(c.replace("{namespace}", namespace) for c in callers)
        return cls(rules)

    @classmethod
    def load(cls, path: Path | None = None, namespace: str | None = None) -> AuthorizationPolicy:
        """From `path`, else $TRADEMESH_AUTHZ_POLICY_FILE, else the repository's policy."""
        namespace = namespace or os.environ.get(NAMESPACE_ENV) or DEFAULT_NAMESPACE
        chosen = path or os.environ.get(POLICY_FILE_ENV)
        if chosen:
            text = Path(chosen).read_text()
        else:
            text = resources.files("trademesh_common").joinpath("authz_policy.yaml").read_text()
        return cls.from_mapping(yaml.safe_load(text), namespace)

    def allowed(self, method: str) -> frozenset[str]:
        exact = self.rules.get(method)
        if exact is not None:
            return exact
        service = method.rsplit("/", 1)[0]
        return self.rules.get(service + "/*", frozenset())

    def decide(self, method: str, identity: str | None) -> str | None:
        """None when `identity` may call `method`, else the reason it may not."""
        callers = self.allowed(method)
        if not callers:
            return f"{method} is not open to any caller"
        if identity is None:
            return "the peer presented no SPIFFE identity"
        if ANY_PEER in callers or identity in callers:
            return None
        return f"{identity} may not call {method}"


def peer_identity(auth_context: Mapping[str, Iterable[bytes]]) -> str | None:
    """The peer's SPIFFE ID from a verified TLS session, or None (plaintext, no URI SAN)."""
    spiffe = list(auth_context.get("peer_spiffe_id", ()))
    if spiffe:
        return spiffe[0].decode()
    for uri in auth_context.get("peer_uri", ()):
        text = uri.decode()
        if text.startswith("spiffe://"):
            return text
    return None


def _guard(
    behavior: Callable[..., Any], method: str, policy: AuthorizationPolicy, streaming: bool
) -> Callable[..., Any]:
    async def check(context: grpc.aio.ServicerContext) -> None:
        identity = peer_identity(context.auth_context())
        reason = policy.decide(method, identity)
        if reason is not None:
            log.warning("denied gRPC call", extra={"method": method, "peer": identity})
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, reason)

    if streaming:

        async def guarded_stream(request: Any, context: grpc.aio.ServicerContext) -> Any:
            await check(context)
            # Handlers either yield responses or write them with context.write().
            result = behavior(request, context)
            if inspect.isasyncgen(result):
                async for item in result:
                    yield item
            else:
                await result

        return guarded_stream

    async def guarded(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await check(context)
        return await behavior(request, context)

    return guarded


class AuthorizationInterceptor(grpc.aio.ServerInterceptor):
    """Refuses, with PERMISSION_DENIED and the reason, calls the policy does not allow."""

    def __init__(self, policy: AuthorizationPolicy) -> None:
        self.policy = policy

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method: str = handler_call_details.method
        kwargs = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                _guard(handler.unary_unary, method, self.policy, False), **kwargs
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                _guard(handler.unary_stream, method, self.policy, True), **kwargs
            )
        if handler.stream_unary is not None:
            return grpc.stream_unary_rpc_method_handler(
                _guard(handler.stream_unary, method, self.policy, False), **kwargs
            )
        return grpc.stream_stream_rpc_method_handler(
            _guard(handler.stream_stream, method, self.policy, True), **kwargs
        )
