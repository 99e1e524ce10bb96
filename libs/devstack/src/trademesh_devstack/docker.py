"""Docker on a machine with no image registry: Debian's dockerd, started when needed.

`Dockerd().start()` attaches to a daemon already answering on the socket, or starts
`dockerd` with the runc wrapper as its default runtime (so `--privileged` containers, kind's
nodes among them, start on this VM).

Test sessions on one machine share that daemon. Each holds a lease (a shared flock) from
start() to stop(); the last one to leave stops a daemon that a devstack started, whichever
session started it. A session that started the daemon and leaves first hands it over
running: stopping it then would kill the containers of the sessions still using it.

The Python base image comes from the debootstrap-made root filesystem (`docker import`),
made once and kept in dockerd's image store; nothing is ever pulled.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from ._proc import DevStackError, ManagedProcess, wait_for
from .install import _file_lock as file_lock
from .install import docker_cache, ensure_rootfs, ensure_runc_wrapper, install_container_tools

log = logging.getLogger("trademesh_devstack.docker")

DEFAULT_SOCKET = Path("/var/run/docker.sock")
DEFAULT_DATA_ROOT = Path("/var/lib/docker")
RUNTIME_NAME = "trademesh-runc"
# The BASE_IMAGE of docker/base/Dockerfile when there is no registry to pull python:3.11-slim.
PYTHON_IMAGE = "trademesh/python:3.11-bookworm"
# Debian's docker.io CLI (20.10) builds with BuildKit by itself; newer CLIs need buildx for it.
DEBIAN_DOCKER_CLI = Path("/usr/bin/docker")
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
# Bounds every CLI call; image builds pass their own, longer bound.
CLI_TIMEOUT_S = 120.0


def docker_cli() -> str:
    """The docker CLI to drive builds with: Debian's (BuildKit built in), else the one on PATH."""
    if DEBIAN_DOCKER_CLI.is_file():
        return str(DEBIAN_DOCKER_CLI)
    found = shutil.which("docker")
    if found is None:
        raise DevStackError("no docker CLI (install_container_tools() installs docker.io)")
    return found


def ping(sock: Path, timeout: float = 1.0) -> bool:
    """True when a Docker API answers `GET /_ping` with OK on the unix socket."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(str(sock))
            conn.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            reply = b""
            while chunk := conn.recv(4096):
                reply += chunk
    except OSError:
        return False
    return reply.startswith(b"HTTP/1.") and b" 200 " in reply.split(b"\r\n", 1)[0]


class Dockerd:
    """A Docker daemon on `sock`: the one already running there, or one this object starts."""

    def __init__(
        self,
        sock: Path = DEFAULT_SOCKET,
        data_root: Path = DEFAULT_DATA_ROOT,
        log_path: Path | None = None,
    ) -> None:
        self.sock = sock
        self.data_root = data_root
        self.log_path = log_path or docker_cache() / "dockerd.log"
        self._process: ManagedProcess | None = None
        self._lease: IO[bytes] | None = None

    @property
    def pid_path(self) -> Path:
        return self.log_path.with_suffix(".pid")

    @property
    def _lock_path(self) -> Path:
        return self.log_path.with_suffix(".lock")

    @property
    def _users_path(self) -> Path:
        return self.log_path.with_suffix(".users")

    @property
    def owned(self) -> bool:
        """True while this object holds the daemon it started (handed over when it leaves first)."""
        return self._process is not None

    @property
    def host(self) -> str:
        return f"unix://{self.sock}"

    def env(self) -> dict[str, str]:
        """Environment for docker CLIs: this daemon, BuildKit on."""
        return {**os.environ, "DOCKER_HOST": self.host, "DOCKER_BUILDKIT": "1"}

    def start(self) -> Self:
        if self._lease is not None:
            return self
        install_container_tools()
        with file_lock(self._lock_path):
            # Taken under the lock that stop() decides under: a daemon this session is
            # about to use is never the one the last session out stops.
            self._lease = self._users_path.open("ab")
            fcntl.flock(self._lease, fcntl.LOCK_SH)
            if not ping(self.sock):
                try:
                    self._start_daemon()
                except BaseException:
                    self._lease.close()
                    self._lease = None
                    raise
        return self

    def _start_daemon(self) -> None:
        wrapper = ensure_runc_wrapper()
        process = ManagedProcess(
            "dockerd",
            [
                "dockerd",
                f"--host={self.host}",
                f"--data-root={self.data_root}",
                f"--pidfile={self.pid_path}",
                f"--add-runtime={RUNTIME_NAME}={wrapper}",
                f"--default-runtime={RUNTIME_NAME}",
            ],
            log_path=self.log_path,
        )
        process.start()
        self._process = process
        try:
            wait_for(
                f"dockerd on {self.sock}",
                lambda: ping(self.sock),
                timeout=START_TIMEOUT_S,
                proc=process,
                logs=[self.log_path],
                interval=0.2,
            )
        except BaseException:
            self._process = None
            process.stop(timeout=STOP_TIMEOUT_S)
            raise
        log.info("dockerd started (pid %s) on %s", process.pid, self.sock)

    def stop(self) -> None:
        """Leaves the daemon; the last session out stops it if a devstack started it."""
        lease, self._lease = self._lease, None
        process, self._process = self._process, None
        if lease is None:
            return
        with file_lock(self._lock_path):
            lease.close()  # drops this session's shared flock
            if self._last_user():
                if process is not None:
                    process.stop(timeout=STOP_TIMEOUT_S)
                else:
                    self._stop_started_elsewhere()
            elif process is not None:
                process.release()
                log.info("dockerd (pid %s) left running for the sessions using it", process.pid)

    def _last_user(self) -> bool:
        with self._users_path.open("ab") as probe:
            try:
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            fcntl.flock(probe, fcntl.LOCK_UN)
            return True

    def _stop_started_elsewhere(self) -> None:
        """Stops the daemon another session started here (its pid file is ours), if any;
        a daemon started some other way (a system service) is left alone."""
        try:
            pid = int(self.pid_path.read_text().strip())
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except (OSError, ValueError):
            return
        if comm != "dockerd":
            return  # a stale pid file: that pid now belongs to someone else
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        # dockerd removes its pid file as the last step of a clean shutdown.
        try:
            wait_for("dockerd to stop", lambda: not self.pid_path.exists(), timeout=STOP_TIMEOUT_S)
        except DevStackError:
            log.warning(
                "dockerd (pid %s) did not stop within %.0fs; killing it", pid, STOP_TIMEOUT_S
            )
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ the CLI
    def run(
        self,
        args: Sequence[str],
        *,
        check: bool = True,
        stdin: IO[bytes] | None = None,
        timeout: float = CLI_TIMEOUT_S,
    ) -> subprocess.CompletedProcess[str]:
        """Runs `docker <args>` against this daemon; a failure raises with the output's tail."""
        try:
            proc = subprocess.run(
                [docker_cli(), *args],
                env=self.env(),
                stdin=stdin if stdin is not None else subprocess.DEVNULL,
                capture_output=True,
                text=True,
                check=False,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:
            raise DevStackError(f"docker {' '.join(args)} took over {timeout:.0f}s") from exc
        if check and proc.returncode != 0:
            output = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
            raise DevStackError(f"docker {' '.join(args)} failed ({proc.returncode}):\n{output}")
        return proc

    def image_exists(self, ref: str) -> bool:
        return self.run(["image", "inspect", ref], check=False).returncode == 0

    def default_runtime(self) -> str:
        return self.run(["info", "--format", "{{.DefaultRuntime}}"]).stdout.strip()


def ensure_python_image(docker: Dockerd, ref: str = PYTHON_IMAGE) -> str:
    """The registry-free Python base: the root filesystem imported once, with python3 as CMD."""
    if docker.image_exists(ref):
        return ref
    tarball = ensure_rootfs()
    started = time.monotonic()
    with tarball.open("rb") as rootfs:
        docker.run(
            [
                "import",
                "--change",
                "ENV LANG=C.UTF-8",
                "--change",
                "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "--change",
                'CMD ["python3"]',
                "-",
                ref,
            ],
            stdin=rootfs,
        )
    log.info("imported %s from %s in %.1fs", ref, tarball, time.monotonic() - started)
    return ref
