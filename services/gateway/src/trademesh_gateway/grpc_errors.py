"""How a failed gRPC call to a service looks to a public API caller."""

from dataclasses import dataclass

import grpc


@dataclass(frozen=True, slots=True)
class PublicError:
    status: int
    code: str
    # None: the service's own message is written for callers and is passed on as is.
    fixed_message: str | None = None


# Domain refusals (bad price, unknown order, insufficient cash, ...) carry messages the
# services write for end users. Everything else describes the mesh itself (addresses,
# service identities, stack traces) and is replaced by a fixed sentence.
_BY_STATUS: dict[grpc.StatusCode, PublicError] = {
    grpc.StatusCode.INVALID_ARGUMENT: PublicError(400, "invalid_argument"),
    grpc.StatusCode.NOT_FOUND: PublicError(404, "not_found"),
    grpc.StatusCode.FAILED_PRECONDITION: PublicError(409, "failed_precondition"),
    grpc.StatusCode.ALREADY_EXISTS: PublicError(409, "already_exists"),
    grpc.StatusCode.RESOURCE_EXHAUSTED: PublicError(429, "resource_exhausted"),
    grpc.StatusCode.PERMISSION_DENIED: PublicError(
        403, "permission_denied", "not allowed to perform this operation"
    ),
    grpc.StatusCode.UNAUTHENTICATED: PublicError(
        401, "unauthenticated", "the request could not be authenticated"
    ),
    grpc.StatusCode.UNAVAILABLE: PublicError(
        503, "unavailable", "a backing service is unavailable; retry shortly"
    ),
    grpc.StatusCode.DEADLINE_EXCEEDED: PublicError(
        504, "deadline_exceeded", "a backing service did not answer in time"
    ),
}
_OTHERWISE = PublicError(502, "upstream_error", "a backing service failed to handle the request")


def public_error(code: grpc.StatusCode, details: str | None) -> tuple[PublicError, str]:
    """The HTTP status/code for a gRPC status, and the message safe to show the caller."""
    error = _BY_STATUS.get(code, _OTHERWISE)
    if error.fixed_message is not None:
        return error, error.fixed_message
    return error, details or code.name.lower().replace("_", " ")
