"""The gateway's configuration: the shared `TRADEMESH_*` settings plus its own."""

import json
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from trademesh_common.config import ServiceSettings


class GatewaySettings(ServiceSettings):
    service_name: str = "gateway"
    # host:port of the order service's and the matching service's gRPC endpoints.
    order_target: str = "127.0.0.1:50051"
    matching_target: str = "127.0.0.1:50052"
    auth_target: str = "127.0.0.1:50053"
    # TRADEMESH_MARKET_TARGET, _SOCIAL_TARGET, _NEWS_TARGET: the services behind the public routes.
    market_target: str = "127.0.0.1:50054"
    social_target: str = "127.0.0.1:50055"
    news_target: str = "127.0.0.1:50056"
    # What an access token must say to be accepted (the auth service's settings).
    jwt_issuer: str = "trademesh-auth"
    jwt_audience: str = "trademesh-api"
    # Clock skew tolerated between the auth service's clock and the gateway's.
    jwt_leeway_seconds: float = Field(default=5.0, ge=0)
    # The JWKS is re-read this often, and early when a token names a key not yet seen --
    # but at most once per `jwks_min_refetch_seconds` (such a token waits for the next
    # read), so made-up key ids cannot make the gateway hammer the auth service.
    jwks_refresh_seconds: float = Field(default=300.0, gt=0)
    jwks_min_refetch_seconds: float = Field(default=1.0, ge=0, le=10)
    # Fixed-window rate limits in Redis: requests per window per client IP (every API
    # route) and per authenticated user (routes that need a caller).
    rate_limit_window_seconds: int = Field(default=60, gt=0)
    rate_limit_per_ip: int = Field(default=1200, gt=0)
    rate_limit_per_user: int = Field(default=600, gt=0)
    # Stricter, per client address, on `/auth/*`: each login or sign-up costs the auth
    # service an argon2id hash, and guessing passwords should be slow.
    rate_limit_auth_per_ip: int = Field(default=30, gt=0)
    # Browser origins allowed to call the API (exact "scheme://host[:port]", no wildcard).
    # Accepts a JSON list or a comma-separated string in TRADEMESH_CORS_ORIGINS.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    max_body_bytes: int = Field(default=64 * 1024, gt=0)
    grpc_timeout_seconds: float = Field(default=2.0, gt=0)
    # Tick sizes rarely change; a short TTL still picks up new listings within seconds.
    instrument_cache_ttl_seconds: float = Field(default=10.0, ge=0)
    # TRADEMESH_QUOTE_CACHE_MAX_AGE_SECONDS: how old a quote served from the live feed's
    # cache may be (0 turns the cache off: every read asks market); and how many symbols
    # one process keeps.
    quote_cache_max_age_seconds: float = Field(default=1.0, ge=0, le=60)
    quote_cache_max_symbols: int = Field(default=10_000, gt=0)
    # Messages buffered per WebSocket before a client that does not read is disconnected.
    ws_send_queue_size: int = Field(default=256, gt=0)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [origin.strip() for origin in text.split(",") if origin.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _explicit_origins_only(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if origin == "*" or "*" in origin:
                raise ValueError("cors_origins must list exact origins; wildcards are refused")
            if not origin.startswith(("http://", "https://")) or origin.endswith("/"):
                raise ValueError(f"not an origin (scheme://host[:port]): {origin!r}")
        return origins
