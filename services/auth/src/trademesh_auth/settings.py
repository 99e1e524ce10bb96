"""The auth service's configuration, from `TRADEMESH_*` environment variables."""

from typing import Self

from pydantic import Field, model_validator

from trademesh_common.config import ServiceSettings


class AuthSettings(ServiceSettings):
    service_name: str = "auth"
    postgres_dsn: str = "postgresql://postgres@127.0.0.1:5432/auth"
    # Claims every access token carries; the gateway checks both.
    jwt_issuer: str = "trademesh-auth"
    jwt_audience: str = "trademesh-api"
    access_token_ttl_seconds: int = Field(default=300, gt=0)
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600, gt=0)
    # A new signing key takes over this often (0: only on request, RotateSigningKey).
    key_rotation_seconds: int = Field(default=7 * 24 * 3600, ge=0)
    # A retired key stays in the JWKS this long: tokens it signed must outlive it there.
    retired_key_grace_seconds: int = Field(default=900, gt=0)
    # How long a replica trusts its cached view of the key ring before reading it again.
    key_ring_reload_seconds: float = Field(default=10.0, gt=0)
    # argon2id cost (RFC 9106's second recommended option by default).
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=64 * 1024, ge=8 * 1024)
    argon2_parallelism: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _grace_covers_token_lifetime(self) -> Self:
        if self.retired_key_grace_seconds < self.access_token_ttl_seconds:
            raise ValueError(
                "retired_key_grace_seconds must be at least access_token_ttl_seconds, "
                "or tokens signed just before a rotation would fail verification"
            )
        return self
