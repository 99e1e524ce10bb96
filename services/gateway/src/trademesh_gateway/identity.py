"""Who is calling.

Until the auth service issues tokens, the only identity source is the development
header `X-Trademesh-User`, honoured solely when `dev_identity` is on. With it off
(every deployment) user routes answer 401: no identity is better than a forgeable one.
"""

import re
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Security
from fastapi.security import APIKeyHeader

from trademesh_gateway.errors import ApiError

DEV_IDENTITY_HEADER = "X-Trademesh-User"
# Browsers cannot set headers on a WebSocket handshake, so dev mode also reads this.
DEV_IDENTITY_QUERY_PARAM = "user"

_USER_ID = re.compile(r"^[A-Za-z0-9._@:-]{1,64}$")

# Declared as a security scheme so the OpenAPI document shows which routes need a caller.
_dev_identity_header = APIKeyHeader(
    name=DEV_IDENTITY_HEADER,
    scheme_name="DevIdentity",
    description="Development only: the caller's user id, trusted as is when the gateway "
    "runs with TRADEMESH_DEV_IDENTITY=true.",
    auto_error=False,
)


class IdentityError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def resolve_dev_identity(dev_identity: bool, claimed_user_id: str | None) -> str:
    """The caller's user id, or IdentityError saying precisely why there is none."""
    if not dev_identity:
        raise IdentityError(
            "authentication required: this gateway accepts no credentials yet "
            f"({DEV_IDENTITY_HEADER} is honoured only in development mode)"
        )
    if not claimed_user_id:
        raise IdentityError(f"authentication required: send the {DEV_IDENTITY_HEADER} header")
    if not _USER_ID.fullmatch(claimed_user_id):
        raise IdentityError(
            f"{DEV_IDENTITY_HEADER} must be 1-64 characters of letters, digits and ._@:-"
        )
    return claimed_user_id


CallerDependency = Callable[..., Awaitable[str]]


def caller_dependency(dev_identity: bool) -> CallerDependency:
    """A FastAPI dependency yielding the caller's user id (401 envelope when there is none)."""

    async def caller_user_id(
        claimed: Annotated[str | None, Security(_dev_identity_header)],
    ) -> str:
        try:
            return resolve_dev_identity(dev_identity, claimed)
        except IdentityError as error:
            raise ApiError(401, "unauthenticated", error.message) from None

    return caller_user_id
