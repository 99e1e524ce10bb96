"""The whole mesh as local processes on loopback: the dev loop and the cross-service tests.

Starts each service with `python -m trademesh_<name>` against a running
DevStack, on free ports, in dependency order, and waits for its `/readyz`.
With `tls=True` (on a DevStack started with tls=True) every service gets a
certificate of its own from the devstack's CA and uses it for gRPC (both ways),
Kafka, Redis and PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from trademesh_devstack._proc import DevStackError, ManagedProcess, free_port, wait_for
from trademesh_devstack.kafka import kafka_client_env
from trademesh_devstack.pki import LeafFiles
from trademesh_devstack.stack import ENV_PKI_DIR, ENV_POSTGRES_ADMIN_DSN, ENV_REDIS_URL, Stack

TOPICS = {
    "orders": 4,
    "executions": 4,
    "marketdata": 4,
    "order-updates": 4,
    "orders.dlq": 1,
    "executions.dlq": 1,
    "marketdata.dlq": 1,
}
# Start order: a service's callees and its topics' producers come first.
SERVICES = ("auth", "order", "matching", "market", "social", "news", "gateway")
# The PostgreSQL database each service owns (none reads another's).
DATABASES = {
    "auth": "auth",
    "order": "orders",
    "market": "market",
    "social": "social",
    "news": "news",
}


@dataclass
class MeshService:
    name: str
    http_port: int
    grpc_port: int
    env: dict[str, str]
    log_path: Path
    process: ManagedProcess | None = field(default=None, repr=False)

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query)) | params
    return urlunsplit(parts._replace(query=urlencode(query)))


def readyz_ok(url: str) -> bool:
    """True when the service at `url` answers /readyz with 200."""
    try:
        with urllib.request.urlopen(url + "/readyz", timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


class Mesh:
    def __init__(
        self,
        stack: Stack,
        state_dir: Path,
        extra_env: dict[str, dict[str, str]] | None = None,
        *,
        tls: bool = False,
    ) -> None:
        if tls and stack.ca is None:
            raise DevStackError("a TLS mesh needs a devstack started with tls=True")
        self.tls = tls
        self._stack = stack
        self._state_dir = state_dir
        self._extra_env = extra_env or {}
        self.services: dict[str, MeshService] = {}
        self.certificates: dict[str, LeafFiles] = {}

    @property
    def gateway_url(self) -> str:
        return self.services["gateway"].http_url

    def _plan(self) -> None:
        base = {**os.environ, **self._stack.env(), "PYTHONUNBUFFERED": "1"}
        ports = {name: (free_port(), free_port()) for name in SERVICES}
        per_service: dict[str, dict[str, str]] = {name: {} for name in SERVICES}
        for name, database in DATABASES.items():
            per_service[name]["TRADEMESH_POSTGRES_DSN"] = self._stack.create_database(database)
        per_service["gateway"] = {
            f"TRADEMESH_{name.upper()}_TARGET": f"127.0.0.1:{ports[name][1]}"
            for name in SERVICES
            if name != "gateway"
        }
        # Every local client shares 127.0.0.1: a per-address limit would throttle them all
        # together, so only the per-user limit is in force here.
        per_service["gateway"]["TRADEMESH_RATE_LIMIT_PER_IP"] = "1000000"
        per_service["gateway"]["TRADEMESH_RATE_LIMIT_AUTH_PER_IP"] = "1000000"
        for name in SERVICES:
            http_port, grpc_port = ports[name]
            env = {
                **base,
                "TRADEMESH_SERVICE_NAME": name,
                "TRADEMESH_HTTP_PORT": str(http_port),
                "TRADEMESH_GRPC_PORT": str(grpc_port),
                **per_service[name],
            }
            if self.tls:
                env = self._with_own_certificate(name, env)
            env.update(self._extra_env.get(name, {}))
            self.services[name] = MeshService(
                name, http_port, grpc_port, env, self._state_dir / "logs" / f"{name}.log"
            )

    def _with_own_certificate(self, name: str, env: dict[str, str]) -> dict[str, str]:
        """`env` with every client credential replaced by the service's own certificate."""
        assert self._stack.ca is not None
        files = self._stack.ca.issue(name)
        self.certificates[name] = files
        env = {k: v for k, v in env.items() if k not in (ENV_POSTGRES_ADMIN_DSN, ENV_PKI_DIR)}
        env.update(files.tls_env())
        env.update(kafka_client_env(files))
        env[ENV_REDIS_URL] = _with_query(
            env[ENV_REDIS_URL], ssl_certfile=str(files.cert), ssl_keyfile=str(files.key)
        )
        if "TRADEMESH_POSTGRES_DSN" in env:
            env["TRADEMESH_POSTGRES_DSN"] = _with_query(
                env["TRADEMESH_POSTGRES_DSN"], sslcert=str(files.cert), sslkey=str(files.key)
            )
        return env

    def rotate_certificates(self) -> None:
        """Re-issues every service's certificate in place (the services reload them)."""
        assert self._stack.ca is not None
        for name in self.certificates:
            self._stack.ca.issue(name)

    def start(self, timeout: float = 90.0) -> None:
        self._stack.create_topics(TOPICS)
        self._plan()
        for name in SERVICES:
            self.start_service(name, timeout)

    def start_service(self, name: str, timeout: float = 90.0) -> None:
        service = self.services[name]
        service.process = ManagedProcess(
            name,
            [sys.executable, "-m", f"trademesh_{name}"],
            log_path=service.log_path,
            env=service.env,
        )
        service.process.start()
        wait_for(
            f"{name} /readyz",
            lambda: readyz_ok(service.http_url),
            timeout=timeout,
            proc=service.process,
            logs=[service.log_path],
            interval=0.2,
        )

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Kills a service without a clean stop (for crash tests)."""
        process = self.services[name].process
        assert process is not None and process.pid is not None
        os.killpg(process.pid, sig)
        process.stop(timeout=10)

    def stop(self) -> None:
        for name in reversed(SERVICES):
            process = self.services.get(name) and self.services[name].process
            if process is not None:
                process.stop()
