"""Verifying access tokens locally, with the keys in the JWKS cache.

Every check a forged or stale token could slip through is explicit: the algorithm
comes from our accepted list and must match the key's (so `alg: none` and HMAC
tricks fail before any signature check), the key id must name a published key,
and the signature, expiry, issuer and audience are all required.

A client sends the same token for minutes, so tokens that verified are remembered
(bounded, least recently used first out) and a repeat costs a dictionary lookup
instead of a signature check. A remembered token still expires on time, and all are
forgotten whenever the published key set changes (a key withdrawn takes its tokens
with it).
"""

import time
from collections import OrderedDict
from dataclasses import dataclass

import jwt

from trademesh_gateway.jwks import ACCEPTED_ALGORITHMS, JwksCache

_REQUIRED_CLAIMS = ["exp", "iat", "sub", "iss", "aud"]
_MAX_TOKEN_LENGTH = 4096
DEFAULT_REMEMBERED_TOKENS = 10_000


class InvalidToken(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Caller:
    user_id: str
    expires_at: float


class AccessTokenVerifier:
    def __init__(
        self,
        keys: JwksCache,
        issuer: str,
        audience: str,
        leeway_seconds: float,
        remembered_tokens: int = DEFAULT_REMEMBERED_TOKENS,
    ) -> None:
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway_seconds
        self._capacity = remembered_tokens
        self._verified: OrderedDict[str, Caller] = OrderedDict()
        self._verified_with = keys.version

    async def verify(self, token: str) -> Caller:
        if self._verified_with != self._keys.version:
            self._verified.clear()
            self._verified_with = self._keys.version
        caller = self._verified.get(token)
        if caller is not None:
            if time.time() < caller.expires_at + self._leeway:
                self._verified.move_to_end(token)
                return caller
            del self._verified[token]
        caller = await self._verify_signed(token)
        if self._verified_with == self._keys.version and self._capacity:
            self._verified[token] = caller
            if len(self._verified) > self._capacity:
                self._verified.popitem(last=False)
        return caller

    async def _verify_signed(self, token: str) -> Caller:
        if len(token) > _MAX_TOKEN_LENGTH:
            raise InvalidToken("access token is too long")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise InvalidToken("access token is malformed") from None
        algorithm, kid = header.get("alg"), header.get("kid")
        if algorithm not in ACCEPTED_ALGORITHMS:
            raise InvalidToken(f"access token algorithm {str(algorithm)[:16]!r} is not accepted")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("access token names no signing key (kid)")
        key = await self._keys.key(kid[:128])
        if key is None:
            raise InvalidToken("access token is signed with an unknown key")
        if key.algorithm_name != algorithm:
            raise InvalidToken("access token algorithm does not match its key")
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[algorithm],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": _REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("access token has expired") from None
        except jwt.InvalidSignatureError:
            raise InvalidToken("access token signature is invalid") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken("access token is not meant for this API (audience)") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("access token is from an unknown issuer") from None
        except jwt.MissingRequiredClaimError as error:
            raise InvalidToken(f"access token lacks the {error.claim!r} claim") from None
        except jwt.InvalidTokenError:
            raise InvalidToken("access token is invalid") from None
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject or len(subject) > 64:
            raise InvalidToken("access token subject is invalid")
        return Caller(user_id=subject, expires_at=float(claims["exp"]))
