"""DevStack: Redis + PostgreSQL + Kafka together, started concurrently, stopped as one."""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import IO, Protocol, Self

from ._proc import DevStackError
from .install import KAFKA_VERSION, install_all
from .kafka import KafkaBroker, client_security
from .kafka import create_topics as kafka_create_topics
from .pki import LocalCA, ServerTls
from .postgres import PostgresServer
from .postgres import create_database as pg_create_database
from .redis import RedisServer

log = logging.getLogger("trademesh_devstack")

ENV_REDIS_URL = "TRADEMESH_REDIS_URL"
ENV_KAFKA_BOOTSTRAP = "TRADEMESH_KAFKA_BOOTSTRAP"
ENV_POSTGRES_ADMIN_DSN = "TRADEMESH_POSTGRES_ADMIN_DSN"
ENV_KEYS = (ENV_REDIS_URL, ENV_KAFKA_BOOTSTRAP, ENV_POSTGRES_ADMIN_DSN)
# Set in TLS mode only: the local CA's folder.
ENV_PKI_DIR = "TRADEMESH_DEVSTACK_PKI_DIR"
ENV_FILE_NAME = "env.json"


class Stack(Protocol):
    """What test suites use: a running DevStack or an AttachedStack to one started elsewhere."""

    def env(self) -> dict[str, str]: ...

    @property
    def ca(self) -> LocalCA | None: ...

    def create_database(self, name: str) -> str: ...

    def create_topics(self, spec: Mapping[str, int], timeout: float = 30.0) -> None: ...


def repo_root(start: Path | None = None) -> Path | None:
    """The nearest ancestor of `start` (default: cwd) holding uv.lock, else None."""
    here = (start or Path.cwd()).resolve()
    for directory in [here, *here.parents]:
        if (directory / "uv.lock").is_file():
            return directory
    return None


def default_state_dir(name: str = "dev") -> Path:
    """`<repo root>/.devstack/<name>` (gitignored); a fresh temp dir outside a checkout."""
    root = repo_root()
    if root is not None:
        return root / ".devstack" / name
    return Path(tempfile.mkdtemp(prefix="trademesh-devstack-"))


class DevStack:
    """Real Redis, PostgreSQL and Kafka on free 127.0.0.1 ports, state under `state_dir`.

    `state_dir=None` uses a private temp dir that `stop()` deletes. A given state dir is kept:
    starting again reuses the PostgreSQL cluster and the Kafka log dirs in it (Redis keeps no
    data). One DevStack at a time per state dir (a lock file enforces it).
    """

    def __init__(
        self,
        state_dir: Path | None = None,
        *,
        install: bool = True,
        kafka_version: str = KAFKA_VERSION,
        tls: bool = False,
    ) -> None:
        self._owns_state_dir = state_dir is None
        self.state_dir = (
            Path(tempfile.mkdtemp(prefix="trademesh-devstack-"))
            if state_dir is None
            else Path(state_dir).resolve()
        )
        self.install = install
        self.kafka_version = kafka_version
        # TLS mode: one CA for the servers and every client; the pki folder is where
        # Mesh(tls=True) issues each service its own certificate.
        self.ca: LocalCA | None = None
        server_tls: ServerTls | None = None
        if tls:
            self.ca = LocalCA(self.state_dir / "pki").ensure()
            server_tls = ServerTls(
                server=self.ca.issue("devstack", "devstack"),
                admin=self.ca.issue("devstack-admin", "devstack"),
            )
        self.redis = RedisServer(self.state_dir / "redis", tls=server_tls)
        self.postgres = PostgresServer(self.state_dir / "postgres", tls=server_tls)
        self.kafka = KafkaBroker(self.state_dir / "kafka", version=kafka_version, tls=server_tls)
        self.install_seconds: float | None = None
        self.start_seconds: float | None = None
        self._lock_file: IO[str] | None = None
        self._state_lock = threading.Lock()
        self._started = False

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Self:
        """Install (when asked; fast when warm), then start all three concurrently."""
        with self._state_lock:
            if self._started:
                return self
            began = time.monotonic()
            self._acquire_state_dir()
            try:
                if self.install:
                    install_all(self.kafka_version)
                self.install_seconds = time.monotonic() - began
                self._start_all()
            except BaseException:
                self._stop_all()
                self._release_state_dir()
                raise
            self._started = True
            atexit.register(self.stop)
            self.start_seconds = time.monotonic() - began
            self.write_env_file(self.state_dir / ENV_FILE_NAME)
            log.info("devstack up in %.1fs: %s", self.start_seconds, self.env())
            return self

    def _start_all(self) -> None:
        starters: dict[str, Callable[[], None]] = {
            "kafka": self.kafka.start,  # the slowest: submit it first
            "postgres": self.postgres.start,
            "redis": self.redis.start,
        }
        errors: list[str] = []
        with ThreadPoolExecutor(max_workers=3, thread_name_prefix="devstack-start") as pool:
            futures = {name: pool.submit(fn) for name, fn in starters.items()}
            for name, future in futures.items():
                try:
                    future.result()
                except Exception as exc:
                    errors.append(f"[{name}] {exc}")
        if errors:
            raise DevStackError("devstack failed to start:\n" + "\n".join(errors))

    def stop(self) -> None:
        """Stop all three (terminate, wait, kill after a timeout). Idempotent."""
        with self._state_lock:
            atexit.unregister(self.stop)
            self._stop_all()
            self._started = False
            self._release_state_dir()
            if self._owns_state_dir:
                shutil.rmtree(self.state_dir, ignore_errors=True)

    def _stop_all(self) -> None:
        with ThreadPoolExecutor(max_workers=3, thread_name_prefix="devstack-stop") as pool:
            futures = [pool.submit(s.stop) for s in (self.kafka, self.postgres, self.redis)]
            for future in futures:
                try:
                    future.result()
                except Exception as exc:  # keep stopping the others
                    log.warning("devstack stop: %s", exc)

    def _acquire_state_dir(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        fh = (self.state_dir / "devstack.lock").open("a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "?"
            fh.close()
            raise DevStackError(
                f"state dir {self.state_dir} is in use by another devstack (pid {holder})"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        self._lock_file = fh

    def _release_state_dir(self) -> None:
        if self._lock_file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ what clients use
    def env(self) -> dict[str, str]:
        """What clients need; in TLS mode with the devstack's admin certificate."""
        env = {
            ENV_REDIS_URL: self.redis.url,
            ENV_KAFKA_BOOTSTRAP: self.kafka.bootstrap,
            ENV_POSTGRES_ADMIN_DSN: self.postgres.admin_dsn,
            **self.kafka.client_env(),
        }
        if self.ca is not None:
            env[ENV_PKI_DIR] = str(self.ca.directory)
        return env

    def create_database(self, name: str) -> str:
        """Role + database `name` (idempotent); returns its `postgresql://` DSN."""
        return self.postgres.create_database(name)

    def create_topics(self, spec: Mapping[str, int], timeout: float = 30.0) -> None:
        """Topic name -> partitions (idempotent); returns when all partitions have leaders."""
        self.kafka.create_topics(spec, timeout=timeout)

    def pids(self) -> dict[str, int]:
        """Leader pid of each server process (each is also its process group id)."""
        found = {
            "redis": self.redis.pid,
            "postgres": self.postgres.pid,
            "kafka": self.kafka.pid,
        }
        return {name: pid for name, pid in found.items() if pid is not None}

    def timings(self) -> dict[str, float]:
        """Seconds spent: install check, each component's start, the whole start."""
        values = {
            "install": self.install_seconds,
            "redis": self.redis.start_seconds,
            "postgres": self.postgres.start_seconds,
            "kafka_ready": self.kafka.ready_seconds,
            "kafka": self.kafka.start_seconds,
            "total": self.start_seconds,
        }
        return {k: round(v, 3) for k, v in values.items() if v is not None}

    def write_env_file(self, path: Path) -> None:
        """The env as JSON (0600: it holds the admin password), for AttachedStack."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(self.env(), fh, indent=2)
            fh.write("\n")
        tmp.replace(path)


class AttachedStack:
    """A stack started elsewhere (e.g. `python -m trademesh_devstack up`), known by its env."""

    def __init__(self, env: Mapping[str, str]) -> None:
        missing = [key for key in ENV_KEYS if not env.get(key)]
        if missing:
            raise DevStackError(f"devstack env lacks {', '.join(missing)}")
        self._env = {
            key: value
            for key, value in env.items()
            if key in ENV_KEYS or key == ENV_PKI_DIR or key.startswith("TRADEMESH_KAFKA_")
        }
        pki = self._env.get(ENV_PKI_DIR)
        self._ca = LocalCA(Path(pki)).ensure() if pki else None

    @property
    def ca(self) -> LocalCA | None:
        return self._ca

    @classmethod
    def from_env_file(cls, path: Path) -> AttachedStack:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise DevStackError(f"cannot read devstack env file {path}: {exc}") from exc
        return cls(data)

    def env(self) -> dict[str, str]:
        return dict(self._env)

    def create_database(self, name: str) -> str:
        return pg_create_database(self._env[ENV_POSTGRES_ADMIN_DSN], name)

    def create_topics(self, spec: Mapping[str, int], timeout: float = 30.0) -> None:
        kafka_create_topics(
            self._env[ENV_KAFKA_BOOTSTRAP],
            spec,
            timeout=timeout,
            security=client_security(self._env),
        )

    def stop(self) -> None:
        """Nothing to stop: the stack belongs to whoever started it."""
