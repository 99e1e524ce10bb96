"""The gateway's configuration: the shared `TRADEMESH_*` settings plus its own."""

import json
from typing import Annotated, Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import NoDecode

from trademesh_common.config import ServiceSettings

# Environments where a forged identity header would be a real account takeover.
_PRODUCTION_ENVIRONMENTS = frozenset({"prod", "production"})


class GatewaySettings(ServiceSettings):
    service_name: str = "gateway"
    # host:port of the order service's and the matching service's gRPC endpoints.
    order_target: str = "127.0.0.1:50051"
    matching_target: str = "127.0.0.1:50052"
    # TRADEMESH_MARKET_TARGET, _SOCIAL_TARGET, _NEWS_TARGET: the services behind the public routes.
    market_target: str = "127.0.0.1:50053"
    social_target: str = "127.0.0.1:50054"
    news_target: str = "127.0.0.1:50055"
    # Until the auth service exists, trust the caller's user id from a header. Anyone can set
    # a header, so this is for local development and tests only.
    dev_identity: bool = False
    # Browser origins allowed to call the API (exact "scheme://host[:port]", no wildcard).
    # Accepts a JSON list or a comma-separated string in TRADEMESH_CORS_ORIGINS.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    max_body_bytes: int = Field(default=64 * 1024, gt=0)
    grpc_timeout_seconds: float = Field(default=2.0, gt=0)
    # Tick sizes rarely change; a short TTL still picks up new listings within seconds.
    instrument_cache_ttl_seconds: float = Field(default=10.0, ge=0)
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

    @model_validator(mode="after")
    def _no_dev_identity_in_production(self) -> Self:
        if self.dev_identity and self.environment.lower() in _PRODUCTION_ENVIRONMENTS:
            raise ValueError("dev_identity must stay off in production")
        return self
