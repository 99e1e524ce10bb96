"""Access tokens (short-lived JWTs) and refresh tokens (opaque, single use, in families).

A login starts a family. Each refresh spends its token and issues the next one in the
same family. Presenting a spent token means two parties hold the same token, one of
them a thief: the whole family is revoked, so the thief's newer token dies with it.
"""

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
import jwt

from trademesh_auth.errors import Unauthenticated
from trademesh_auth.keys import ALGORITHM, KeyRing

_REFRESH_TOKEN_BYTES = 32
# One answer for every refusal: a caller learns nothing about which tokens exist.
_INVALID_REFRESH = "refresh token is invalid, expired or revoked"


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class TokenPolicy:
    issuer: str
    audience: str
    access_ttl_seconds: int
    refresh_ttl_seconds: int


def _hash(refresh_token: str) -> bytes:
    # The token is 256 random bits: a fast hash suffices (no dictionary to guess from).
    return hashlib.sha256(refresh_token.encode()).digest()


class Tokens:
    def __init__(self, pool: asyncpg.Pool, keys: KeyRing, policy: TokenPolicy) -> None:
        self._pool = pool
        self._keys = keys
        self._policy = policy

    async def access_token(self, user_id: uuid.UUID, username: str) -> str:
        key = await self._keys.signing_key()
        now = int(time.time())
        claims = {
            "iss": self._policy.issuer,
            "aud": self._policy.audience,
            "sub": str(user_id),
            "name": username,
            "iat": now,
            "nbf": now,
            "exp": now + self._policy.access_ttl_seconds,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})

    async def start_session(self, user_id: uuid.UUID, username: str) -> TokenPair:
        """After a login: a new family and its first refresh token."""
        family_id = uuid.uuid4()
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO token_families (family_id, user_id) VALUES ($1, $2)",
                family_id,
                user_id,
            )
            refresh_token = await self._issue_refresh(conn, family_id)
        return await self._pair(user_id, username, refresh_token)

    async def refresh(self, refresh_token: str) -> TokenPair:
        async with self._pool.acquire() as conn:
            async with conn.transaction():
                row = await conn.fetchrow(
                    "SELECT t.family_id, t.expires_at > now() AS live, t.spent_at,"
                    " f.revoked_at, u.user_id, u.username"
                    " FROM refresh_tokens t"
                    " JOIN token_families f USING (family_id)"
                    " JOIN users u USING (user_id)"
                    " WHERE t.token_hash = $1 FOR UPDATE OF t, f",
                    _hash(refresh_token),
                )
                if row is None or row["revoked_at"] is not None:
                    raise Unauthenticated(_INVALID_REFRESH)
                reused = row["spent_at"] is not None
                new_token = None
                if not reused and row["live"]:
                    await conn.execute(
                        "UPDATE refresh_tokens SET spent_at = now() WHERE token_hash = $1",
                        _hash(refresh_token),
                    )
                    new_token = await self._issue_refresh(conn, row["family_id"])
            if reused:
                await self._revoke(conn, row["family_id"], "refresh token reused")
        if new_token is None:
            raise Unauthenticated(_INVALID_REFRESH)
        return await self._pair(row["user_id"], row["username"], new_token)

    async def logout(self, refresh_token: str) -> None:
        """Ends the token's session; an unknown token is already as good as logged out."""
        async with self._pool.acquire() as conn:
            family_id = await conn.fetchval(
                "SELECT family_id FROM refresh_tokens WHERE token_hash = $1",
                _hash(refresh_token),
            )
            if family_id is not None:
                await self._revoke(conn, family_id, "logout")

    async def _issue_refresh(self, conn: asyncpg.Connection, family_id: uuid.UUID) -> str:
        token = secrets.token_urlsafe(_REFRESH_TOKEN_BYTES)
        await conn.execute(
            "INSERT INTO refresh_tokens (token_hash, family_id, expires_at)"
            " VALUES ($1, $2, now() + $3::interval)",
            _hash(token),
            family_id,
            timedelta(seconds=self._policy.refresh_ttl_seconds),
        )
        return token

    async def _revoke(self, conn: asyncpg.Connection, family_id: uuid.UUID, reason: str) -> None:
        await conn.execute(
            "UPDATE token_families SET revoked_at = now(), revoked_reason = $2"
            " WHERE family_id = $1 AND revoked_at IS NULL",
            family_id,
            reason,
        )

    async def _pair(self, user_id: uuid.UUID, username: str, refresh_token: str) -> TokenPair:
        return TokenPair(
            access_token=await self.access_token(user_id, username),
            refresh_token=refresh_token,
            expires_in=self._policy.access_ttl_seconds,
        )
