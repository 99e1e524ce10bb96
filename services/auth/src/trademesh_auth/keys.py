"""The signing key ring: Ed25519 keys generated at runtime and kept in the auth database.

Why the database: every replica must sign with a key the gateway can find in the
JWKS, and publish every key some replica may still sign with. The database is the
one store all replicas already share and that the service alone owns; a mounted
Secret would need an outside rotator and a rollout to change keys. The private
keys never leave the service (the gRPC API publishes public JWKs only).

Rotation: the newest unretired key signs. `rotate()` (on request, or when the
current key is older than `rotation_seconds`) adds a key and retires the previous
one; a retired key stays published for `grace_seconds` (at least the access-token
lifetime) and is deleted after that.
"""

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

ALGORITHM = "EdDSA"
# Serialises rotations across replicas (any constant unique within the auth database).
_ROTATION_LOCK_ID = 0x6175_7468  # "auth"


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    private_key: Ed25519PrivateKey
    created_at: datetime


def _new_key_row() -> tuple[str, str, str]:
    """A fresh key: (kid, private PEM, public JWK as JSON)."""
    private_key = Ed25519PrivateKey.generate()
    kid = uuid.uuid4().hex
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    jwk: dict[str, Any] = json.loads(OKPAlgorithm.to_jwk(private_key.public_key()))
    jwk.update(kid=kid, alg=ALGORITHM, use="sig")
    return kid, pem, json.dumps(jwk)


def _load(row: asyncpg.Record) -> SigningKey:
    private_key = serialization.load_pem_private_key(row["private_key_pem"].encode(), None)
    assert isinstance(private_key, Ed25519PrivateKey)
    return SigningKey(row["kid"], private_key, row["created_at"])


class KeyRing:
    def __init__(
        self,
        pool: asyncpg.Pool,
        rotation_seconds: int,
        grace_seconds: int,
        reload_seconds: float,
    ) -> None:
        self._pool = pool
        self._rotation = timedelta(seconds=rotation_seconds) if rotation_seconds else None
        self._grace = timedelta(seconds=grace_seconds)
        self._reload_seconds = reload_seconds
        self._current: SigningKey | None = None
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    async def signing_key(self) -> SigningKey:
        """The key to sign with; re-read now and then so a rotation by any replica shows."""
        if self._current is not None and time.monotonic() - self._loaded_at < self._reload_seconds:
            return self._current
        async with self._lock:
            if self._current is None or time.monotonic() - self._loaded_at >= self._reload_seconds:
                self._current = await self._current_or_rotated()
                self._loaded_at = time.monotonic()
            return self._current

    async def _current_or_rotated(self) -> SigningKey:
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT kid, private_key_pem, created_at FROM signing_keys"
                " WHERE retired_at IS NULL ORDER BY created_at DESC LIMIT 1"
            )
        if row is not None and not self._due(row["created_at"]):
            return _load(row)
        return await self.rotate(only_if_due=True)

    def _due(self, created_at: datetime) -> bool:
        return self._rotation is not None and datetime.now(UTC) - created_at >= self._rotation

    async def rotate(self, *, only_if_due: bool = False) -> SigningKey:
        """Adds a key that signs from now on and retires the previous one.

        With `only_if_due`, a replica that lost the race to another one's rotation takes
        the key that replica made instead of adding another.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _ROTATION_LOCK_ID)
            current = await conn.fetchrow(
                "SELECT kid, private_key_pem, created_at FROM signing_keys"
                " WHERE retired_at IS NULL ORDER BY created_at DESC LIMIT 1"
            )
            if only_if_due and current is not None and not self._due(current["created_at"]):
                key = _load(current)
            else:
                await conn.execute(
                    "UPDATE signing_keys SET retired_at = now() WHERE retired_at IS NULL"
                )
                kid, pem, jwk = _new_key_row()
                row = await conn.fetchrow(
                    "INSERT INTO signing_keys (kid, algorithm, private_key_pem, public_jwk)"
                    " VALUES ($1, $2, $3, $4::jsonb) RETURNING kid, private_key_pem, created_at",
                    kid,
                    ALGORITHM,
                    pem,
                    jwk,
                )
                key = _load(row)
            await conn.execute(
                "DELETE FROM signing_keys WHERE retired_at < now() - $1::interval", self._grace
            )
        self._current = key
        self._loaded_at = time.monotonic()
        return key

    async def jwks(self) -> dict[str, Any]:
        """Every key a valid token may carry: the signing key and those still in grace."""
        await self.signing_key()  # makes sure a first key exists
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT public_jwk FROM signing_keys"
                " WHERE retired_at IS NULL OR retired_at >= now() - $1::interval"
                " ORDER BY created_at DESC",
                self._grace,
            )
        return {"keys": [json.loads(row["public_jwk"]) for row in rows]}
