"""Idempotent installs: Debian packages (Redis, PostgreSQL, Java, Maven, Prometheus), Kafka jars.

Each step checks first and does nothing when its target is already there, so calling
`install_all()` on a warm machine costs a few milliseconds.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ._proc import DevStackError

log = logging.getLogger("trademesh_devstack.install")

KAFKA_VERSION = "3.9.1"
SCALA_BINARY_VERSION = "2.13"
MARKER_NAME = ".complete"
APT_LOCK_TIMEOUT_S = 300
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


# --------------------------------------------------------------------------- locations
def cache_root() -> Path:
    """`$TRADEMESH_CACHE_DIR`, else `$XDG_CACHE_HOME/trademesh`, else `~/.cache/trademesh`."""
    explicit = os.environ.get("TRADEMESH_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "trademesh"


def kafka_home(version: str = KAFKA_VERSION) -> Path:
    """`<cache>/kafka-<version>`; its `libs/` holds the broker's classpath."""
    return cache_root() / f"kafka-{version}"


def kafka_pom() -> Path:
    """The pom.xml that pins Kafka: shipped in the wheel, or read from the source tree."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "kafka" / "pom.xml", here.parents[1] / "kafka" / "pom.xml"):
        if candidate.is_file():
            return candidate
    raise DevStackError(f"kafka pom.xml not found next to {here} nor in the source tree")


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive flock, so concurrent test sessions do not install the same thing twice."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _run(argv: Sequence[str], *, what: str, env: dict[str, str] | None = None) -> None:
    log.info("%s: %s", what, " ".join(argv))
    proc = subprocess.run(
        list(argv),
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        out = "\n".join(_ANSI.sub("", proc.stdout).splitlines()[-40:])
        raise DevStackError(f"{what} failed (exit {proc.returncode}): {' '.join(argv)}\n{out}")


# --------------------------------------------------------------------------- Debian packages
def dpkg_installed(package: str) -> bool:
    """True when dpkg reports `package` as installed."""
    if shutil.which("dpkg-query") is None:
        return False
    proc = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.returncode == 0 and proc.stdout.strip().endswith("install ok installed")


def postgres_bindir() -> Path | None:
    """The newest /usr/lib/postgresql/<major>/bin holding both postgres and initdb."""
    found = []
    for path in glob.glob("/usr/lib/postgresql/*/bin/postgres"):
        bindir = Path(path).parent
        if (bindir / "initdb").is_file():
            with contextlib.suppress(ValueError):
                found.append((int(bindir.parent.name), bindir))
    if found:
        return max(found)[1]
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def missing_debian_packages() -> list[str]:
    """The Debian packages this stack needs and the machine lacks."""
    missing: list[str] = []
    if shutil.which("redis-server") is None:
        missing.append("redis-server")
    if postgres_bindir() is None:
        missing.append("postgresql")
    if shutil.which("java") is None:
        missing.append("openjdk-17-jre-headless")
    if shutil.which("mvn") is None:
        missing.append("maven")
    # promtool checks and unit-tests the SLO rules; the observability tests run the server.
    if shutil.which("promtool") is None or shutil.which("prometheus") is None:
        missing.append("prometheus")
    return missing


@contextlib.contextmanager
def _no_service_starts() -> Iterator[None]:
    """Keep maintainer scripts from starting the system redis/postgres (we run our own).

    The standard Debian mechanism: /usr/sbin/policy-rc.d exiting 101 forbids invoke-rc.d actions.
    An existing policy is left alone; one we add is removed afterwards.
    """
    policy = Path("/usr/sbin/policy-rc.d")
    if policy.exists():
        yield
        return
    policy.write_text(
        "#!/bin/sh\n# trademesh-devstack: no service starts during install\nexit 101\n"
    )
    policy.chmod(0o755)
    try:
        yield
    finally:
        policy.unlink(missing_ok=True)


def ensure_debian_packages(packages: Sequence[str] | None = None) -> list[str]:
    """Install what is missing (apt-get update once, then install). Returns what it installed."""
    wanted = _still_wanted(packages)
    if not wanted:
        return []
    if shutil.which("apt-get") is None:
        raise DevStackError(f"missing {', '.join(wanted)} and there is no apt-get to install them")
    if os.geteuid() != 0:
        raise DevStackError(
            f"missing {', '.join(wanted)}; run as root or install them: "
            f"sudo apt-get install -y --no-install-recommends {' '.join(wanted)}"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    lock = f"DPkg::Lock::Timeout={APT_LOCK_TIMEOUT_S}"
    with _file_lock(cache_root() / "apt.lock"):
        # Another session may have installed them while we waited for the lock.
        wanted = _still_wanted(packages)
        if not wanted:
            return []
        with _no_service_starts():
            _run(["apt-get", "-o", lock, "update", "-q"], what="apt-get update", env=env)
            _run(
                ["apt-get", "-o", lock, "install", "-y", "-q", "--no-install-recommends", *wanted],
                what="apt-get install",
                env=env,
            )
    _stop_system_services()
    still = _still_wanted(packages)
    if still:
        raise DevStackError(f"apt-get install finished but these are still missing: {still}")
    return wanted


def _still_wanted(packages: Sequence[str] | None) -> list[str]:
    if packages is None:
        return missing_debian_packages()
    return [p for p in packages if not dpkg_installed(p)]


def _stop_system_services() -> None:
    """If a package script started the Debian-managed servers anyway, stop them: never needed."""
    for service in ("redis-server", "postgresql", "prometheus"):
        script = Path("/etc/init.d") / service
        if script.exists():
            subprocess.run(
                [str(script), "stop"],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                check=False,
            )


# --------------------------------------------------------------------------- Kafka jars
@dataclass(frozen=True)
class KafkaInstall:
    version: str
    home: Path

    @property
    def libs(self) -> Path:
        return self.home / "libs"

    @property
    def classpath(self) -> str:
        return str(self.libs / "*")


def kafka_installed(version: str = KAFKA_VERSION) -> bool:
    """True when the cache holds a complete resolve (marker present, every jar it lists there)."""
    home = kafka_home(version)
    marker = home / MARKER_NAME
    if not marker.is_file():
        return False
    jars = [line for line in marker.read_text().splitlines() if line.endswith(".jar")]
    main_jar = f"kafka_{SCALA_BINARY_VERSION}-{version}.jar"
    return main_jar in jars and all((home / "libs" / jar).is_file() for jar in jars)


def ensure_kafka(version: str = KAFKA_VERSION) -> KafkaInstall:
    """Resolve Kafka and its runtime dependencies from Maven Central into the cache (once)."""
    home = kafka_home(version)
    if kafka_installed(version):
        return KafkaInstall(version, home)
    mvn = shutil.which("mvn")
    if mvn is None:
        raise DevStackError("mvn not found on PATH (install_all() installs maven)")
    with _file_lock(cache_root() / f"kafka-{version}.lock"):
        if kafka_installed(version):
            return KafkaInstall(version, home)
        home.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="libs.", dir=home))
        try:
            started = time.monotonic()
            _run(
                [
                    mvn,
                    "-q",
                    "-B",
                    "--no-transfer-progress",
                    "-Dstyle.color=never",
                    "-f",
                    str(kafka_pom()),
                    "dependency:copy-dependencies",
                    f"-Dkafka.version={version}",
                    f"-Dkafka.libs.dir={staging}",
                ],
                what=f"maven resolve of kafka {version}",
            )
            jars = sorted(p.name for p in staging.glob("*.jar"))
            if f"kafka_{SCALA_BINARY_VERSION}-{version}.jar" not in jars:
                raise DevStackError(f"maven resolved no kafka_{SCALA_BINARY_VERSION}-{version}.jar")
            libs = home / "libs"
            if libs.exists():
                shutil.rmtree(libs)
            staging.rename(libs)
            (home / MARKER_NAME).write_text("\n".join(jars) + "\n")
            log.info("kafka %s resolved in %.1fs", version, time.monotonic() - started)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return KafkaInstall(version, home)


def install_all(kafka_version: str = KAFKA_VERSION) -> KafkaInstall:
    """Everything the stack needs: Debian packages first (Maven, Java), then the Kafka jars."""
    ensure_debian_packages()
    return ensure_kafka(kafka_version)
