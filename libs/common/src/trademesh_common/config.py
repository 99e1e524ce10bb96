"""Typed configuration from environment variables.

Every service subclasses `ServiceSettings`; shared settings use the
`TRADEMESH_` prefix so one environment (a Helm values block, the devstack's
exports) configures the whole mesh, and a service's own settings add theirs.
"""

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class TlsSettings(BaseSettings):
    """Certificate files for mutual TLS; unset means plaintext (local dev only)."""

    model_config = SettingsConfigDict(env_prefix="TRADEMESH_TLS_", extra="ignore")

    cert_file: Path | None = None
    key_file: Path | None = None
    ca_file: Path | None = None

    @property
    def enabled(self) -> bool:
        return self.cert_file is not None and self.key_file is not None and self.ca_file is not None


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRADEMESH_", extra="ignore")

    service_name: str = "trademesh"
    environment: str = "dev"
    log_level: str = "INFO"
    # HTTP port for /healthz, /readyz and /metrics (the gateway serves its API there too).
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    grpc_host: str = "127.0.0.1"
    grpc_port: int = 50051
    kafka_bootstrap: str = "127.0.0.1:9092"
    redis_url: str = "redis://127.0.0.1:6379/0"
    # OTLP/gRPC endpoint of a collector; tracing still runs (context propagates) without it.
    otlp_endpoint: str | None = None
    tls: TlsSettings = Field(default_factory=TlsSettings)
