"""Who is calling: the subject of a bearer access token the gateway verified itself.

Routes that need a caller depend on `caller_dependency(...)`, which yields the user id
(401 in the error envelope for a missing or bad token) and counts the request
against the user's rate limit (429). The scheme is declared as HTTP bearer so the
OpenAPI document shows which routes need a token.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from trademesh_gateway.access_tokens import AccessTokenVerifier, InvalidToken
from trademesh_gateway.errors import ApiError
from trademesh_gateway.rate_limits import RateLimited, RateLimiter, too_many_requests_message

BEARER_SCHEME_NAME = "bearerAuth"

_bearer = HTTPBearer(
    scheme_name=BEARER_SCHEME_NAME,
    bearerFormat="JWT",
    description="An access token from `POST /api/v1/auth/login` (or `/auth/refresh`).",
    auto_error=False,
)

CallerDependency = Callable[..., Awaitable[str]]


def unauthenticated(message: str) -> ApiError:
    return ApiError(401, "unauthenticated", message, {"WWW-Authenticate": "Bearer"})


def caller_dependency(
    verifier: AccessTokenVerifier,
    limiter: RateLimiter,
    per_user_limit: int,
    window_seconds: int,
) -> CallerDependency:
    """A FastAPI dependency yielding the caller's user id."""

    async def caller_user_id(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    ) -> str:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise unauthenticated("authentication required: send Authorization: Bearer <token>")
        try:
            caller = await verifier.verify(credentials.credentials)
        except InvalidToken as error:
            raise unauthenticated(error.message) from None
        try:
            await limiter.hit(f"user:{caller.user_id}", per_user_limit)
        except RateLimited as limited:
            raise ApiError(
                429,
                "resource_exhausted",
                too_many_requests_message("per user", per_user_limit, window_seconds),
                {"Retry-After": str(limited.retry_after_seconds)},
            ) from None
        return caller.user_id

    return caller_user_id
