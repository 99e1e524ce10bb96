"""Idempotent installs: Debian packages (Redis, PostgreSQL, etcd, Prometheus, Java, Maven), the
Kafka jars, the Kubernetes tools built from their Go modules (kube-apiserver, kubectl, helm, CRDs),
and for the images Docker's daemon, a runc wrapper and a debootstrap-made root filesystem.

Each step checks first and does nothing when its target is already there, so calling
`install_all()` and `install_kube()` on a warm machine costs a few milliseconds.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
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


def _run(
    argv: Sequence[str],
    *,
    what: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> None:
    log.info("%s: %s", what, " ".join(argv))
    proc = subprocess.run(
        list(argv),
        env=env,
        cwd=cwd,
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
    if shutil.which("etcd") is None:
        missing.append("etcd-server")
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
    for service in ("redis-server", "postgresql", "etcd", "prometheus"):
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


# --------------------------------------------------------------------------- container tools
# What image builds need on a machine with no image registry: Debian's dockerd, a runc that
# tolerates this VM's capability bounding set, and a bookworm root filesystem with Python to
# import as the base image.
CONTAINER_PACKAGES = {"dockerd": "docker.io", "debootstrap": "debootstrap"}
RUNC = Path("/usr/sbin/runc")
SUITE = "bookworm"
# python3 is bookworm's 3.11; python3-venv makes `python3 -m venv` work as in python:3.11-slim.
ROOTFS_PACKAGES = ("python3", "python3-venv", "ca-certificates")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
# Dropped from the root filesystem: package caches and lists, docs (not licences), man pages.
ROOTFS_TRIM = (
    "var/cache/apt/archives/*.deb",
    "var/cache/apt/*.bin",
    "var/lib/apt/lists/*",
    "usr/share/man/*",
    "usr/share/info/*",
    "usr/share/locale/*",
)

# Deletes CAP_SYS_RESOURCE from what runc is asked to grant. The VM's bounding set lacks it,
# so runc fails "unable to apply caps" for --privileged containers (kind nodes are); every
# other capability, and every other runc call, passes through untouched.
RUNC_WRAPPER = """\
#!/usr/bin/python3 -IS
# trademesh-devstack: runc minus CAP_SYS_RESOURCE (absent from this machine's bounding set)
import json, os, sys

DROP = "CAP_SYS_RESOURCE"
RUNC = "{runc}"


def option(args, long, short):
    for i, arg in enumerate(args):
        if arg in (long, short) and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(long + "="):
            return arg.split("=", 1)[1]
    return None


def patch(path, capabilities_of):
    try:
        with open(path) as fh:
            doc = json.load(fh)
    except (OSError, ValueError):
        return
    caps = capabilities_of(doc) or {{}}
    lists = {{k: v for k, v in caps.items() if isinstance(v, list) and DROP in v}}
    if not lists:
        return
    for key, value in lists.items():
        caps[key] = [c for c in value if c != DROP]
    with open(path + ".tmp", "w") as fh:
        json.dump(doc, fh)
    os.replace(path + ".tmp", path)


args = sys.argv[1:]
command = next((a for a in args if a in ("create", "run", "exec")), None)
if command in ("create", "run"):
    bundle = option(args, "--bundle", "-b") or "."
    patch(os.path.join(bundle, "config.json"), lambda d: d.get("process", {{}}).get("capabilities"))
elif command == "exec":
    process = option(args, "--process", "-p")
    if process:
        patch(process, lambda d: d.get("capabilities"))
os.execv(RUNC, [RUNC, *args])
"""


def docker_cache() -> Path:
    """`<cache>/docker`: the runc wrapper, the root filesystem tarball, dockerd's log."""
    return cache_root() / "docker"


def missing_container_packages() -> list[str]:
    """The Debian packages image builds need and the machine lacks."""
    return [pkg for tool, pkg in CONTAINER_PACKAGES.items() if shutil.which(tool) is None]


def runc_wrapper_path() -> Path:
    return docker_cache() / "runc-trademesh"


def ensure_runc_wrapper(runc: Path = RUNC, path: Path | None = None) -> Path:
    """Writes the wrapper (again only when its text changed); returns its path."""
    path = path or runc_wrapper_path()
    text = RUNC_WRAPPER.format(runc=runc)
    if path.is_file() and path.read_text() == text and os.access(path, os.X_OK):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_suffix(".tmp")
    staging.write_text(text)
    staging.chmod(0o755)
    staging.replace(path)
    return path


def debian_mirror(sources_dir: Path = Path("/etc/apt")) -> str:
    """The machine's Debian mirror for SUITE (its apt sources), else deb.debian.org."""
    for path in sorted((sources_dir / "sources.list.d").glob("*.sources")):
        for stanza in path.read_text().split("\n\n"):
            fields = dict(
                (key.strip().lower(), value.strip())
                for key, _, value in (line.partition(":") for line in stanza.splitlines())
                if not key.startswith("#") and value
            )
            suites = fields.get("suites", "").split()
            uris = fields.get("uris", "").split()
            if SUITE in suites and "main" in fields.get("components", "").split() and uris:
                return uris[0]
    legacy = [
        sources_dir / "sources.list",
        *sorted((sources_dir / "sources.list.d").glob("*.list")),
    ]
    for path in legacy:
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            words = [w for w in line.split() if not w.startswith("[")]
            if len(words) >= 4 and words[0] == "deb" and words[2] == SUITE and "main" in words[3:]:
                return words[1]
    return DEFAULT_MIRROR


def rootfs_tarball() -> Path:
    """Where the root filesystem tarball is cached; the name changes with what goes into it."""
    recipe = "\n".join([SUITE, "minbase", *ROOTFS_PACKAGES, *ROOTFS_TRIM])
    digest = hashlib.sha256(recipe.encode()).hexdigest()[:12]
    return docker_cache() / f"rootfs-{SUITE}-{digest}.tar"


def _unmount_under(root: Path) -> None:
    """Unmounts whatever a debootstrap left mounted under `root` (/proc, /sys), deepest first.

    Needed before deleting a failed debootstrap's directory: it would recurse into /proc.
    """
    prefix = str(root.resolve()) + "/"
    with open("/proc/mounts") as fh:
        points = [line.split()[1] for line in fh if line.split()[1].startswith(prefix)]
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)


def ensure_rootfs() -> Path:
    """A bookworm minbase root filesystem with Python 3.11, as a tarball (debootstrap, once)."""
    tarball = rootfs_tarball()
    if tarball.is_file():
        return tarball
    if os.geteuid() != 0:
        raise DevStackError("debootstrap needs root to build the base image's root filesystem")
    with _file_lock(docker_cache() / "rootfs.lock"):
        if tarball.is_file():
            return tarball
        mirror = debian_mirror()
        work = Path(tempfile.mkdtemp(prefix="rootfs.", dir=docker_cache()))
        root = work / "root"
        try:
            started = time.monotonic()
            _run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    f"--include={','.join(ROOTFS_PACKAGES)}",
                    SUITE,
                    str(root),
                    mirror,
                ],
                what=f"debootstrap {SUITE} from {mirror}",
            )
            _unmount_under(root)
            for pattern in ROOTFS_TRIM:
                for path in root.glob(pattern):
                    if path.is_dir() and not path.is_symlink():
                        shutil.rmtree(path)
                    else:
                        path.unlink()
            for path in (root / "usr/share/doc").rglob("*"):
                if (path.is_file() or path.is_symlink()) and path.name != "copyright":
                    path.unlink()
            staging = work / "rootfs.tar"
            _run(
                ["tar", "--numeric-owner", "-C", str(root), "-cf", str(staging), "."],
                what="tar of the root filesystem",
            )
            staging.replace(tarball)
            log.info("root filesystem %s made in %.1fs", tarball, time.monotonic() - started)
        finally:
            _unmount_under(root)
            shutil.rmtree(work, ignore_errors=True)
    return tarball


def install_container_tools() -> Path:
    """dockerd and debootstrap (apt), the runc wrapper, the root filesystem; returns its tarball.

    Starts nothing: `trademesh_devstack.docker` starts dockerd when an image build needs it.
    """
    ensure_debian_packages(missing_container_packages())
    ensure_runc_wrapper()
    return ensure_rootfs()


# --------------------------------------------------------------------------- skaffold schema
# skaffold.yaml is checked against the JSON schema skaffold itself ships: its Go module holds
# docs-v2/content/en/schemas/<apiVersion>.json; the Go module proxy serves the module.
SKAFFOLD_MODULE = "github.com/GoogleContainerTools/skaffold/v2"
SKAFFOLD_VERSION = "v2.16.1"
SKAFFOLD_API_VERSION = "v4beta13"  # the newest config version skaffold v2.16.1 reads


def go_command() -> str:
    """The machine's Go toolchain (PATH, then the usual install directories)."""
    for candidate in (shutil.which("go"), "/usr/local/go/bin/go", "/usr/lib/go/bin/go"):
        if candidate and Path(candidate).is_file():
            return candidate
    raise DevStackError("no Go toolchain (go): it fetches skaffold's schema from its Go module")


def ensure_skaffold_schema(api_version: str = SKAFFOLD_API_VERSION) -> Path:
    """skaffold's JSON schema for `api_version` (skaffold/<api_version>), cached after one fetch."""
    cached = cache_root() / "skaffold" / f"{SKAFFOLD_VERSION}-{api_version}.json"
    if cached.is_file():
        return cached
    mod_cache = cache_root() / "go" / "mod"
    env = {
        **os.environ,
        "GOMODCACHE": str(mod_cache),
        "GOFLAGS": "-modcacherw",  # the cache stays deletable
        "GOTOOLCHAIN": "local",
    }
    with _file_lock(cache_root() / "skaffold.lock"), tempfile.TemporaryDirectory() as outside:
        if cached.is_file():
            return cached
        proc = subprocess.run(
            [go_command(), "mod", "download", "-json", f"{SKAFFOLD_MODULE}@{SKAFFOLD_VERSION}"],
            cwd=outside,  # outside any Go module: a plain download into the module cache
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise DevStackError(f"go mod download of skaffold failed:\n{proc.stdout}{proc.stderr}")
        module_dir = Path(json.loads(proc.stdout)["Dir"])
        schema = module_dir / "docs-v2" / "content" / "en" / "schemas" / f"{api_version}.json"
        if not schema.is_file():
            raise DevStackError(f"skaffold {SKAFFOLD_VERSION} has no schema {api_version}")
        cached.parent.mkdir(parents=True, exist_ok=True)
        staging = cached.with_suffix(".tmp")
        shutil.copyfile(schema, staging)
        staging.replace(cached)
    return cached


def install_all(kafka_version: str = KAFKA_VERSION) -> KafkaInstall:
    """Everything the stack needs: Debian packages first (Maven, Java), then the Kafka jars."""
    ensure_debian_packages()
    return ensure_kafka(kafka_version)


# --------------------------------------------------------------------------- Kubernetes tools
# Neither kube-apiserver nor helm is in a registry as a binary: both are built from their Go
# modules with the machine's Go toolchain. kube/go.mod pins Kubernetes (see the comment there);
# helm and the CRD sources are pinned here.
HELM_VERSION = "3.18.6"
PROMETHEUS_OPERATOR_VERSION = "0.85.0"
CERT_MANAGER_VERSION = "1.21.2"
GO_MIN_VERSION = (1, 24)  # kube/go.mod's `tool` directive

# CRD name -> (Go module, version, file inside the module)
CRD_SOURCES: dict[str, tuple[str, str, str]] = {
    **{
        f"{plural}.monitoring.coreos.com": (
            "github.com/prometheus-operator/prometheus-operator",
            PROMETHEUS_OPERATOR_VERSION,
            f"example/prometheus-operator-crd/monitoring.coreos.com_{plural}.yaml",
        )
        for plural in ("servicemonitors", "podmonitors", "prometheusrules")
    },
    **{
        f"{plural}.cert-manager.io": (
            "github.com/cert-manager/cert-manager",
            CERT_MANAGER_VERSION,
            f"deploy/crds/cert-manager.io_{plural}.yaml",
        )
        for plural in ("certificates", "certificaterequests", "issuers", "clusterissuers")
    },
}


def go_cache_root() -> Path:
    """`<cache>/go`: GOMODCACHE (`mod/`) and GOCACHE (`build/`), so rebuilds are incremental."""
    return cache_root() / "go"


def kube_module_dir() -> Path:
    """The Go module that pins Kubernetes: shipped in the wheel, or read from the source tree."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "kube", here.parents[1] / "kube"):
        if (candidate / "go.mod").is_file():
            return candidate
    raise DevStackError(f"kube/go.mod not found next to {here} nor in the source tree")


def kubernetes_version() -> str:
    """The Kubernetes version kube/go.mod requires, like `1.33.13`."""
    text = (kube_module_dir() / "go.mod").read_text()
    found = re.search(r"^\s*(?:require\s+)?k8s\.io/kubernetes v(\S+)", text, re.MULTILINE)
    if found is None:
        raise DevStackError(f"{kube_module_dir() / 'go.mod'} does not require k8s.io/kubernetes")
    return found.group(1)


@dataclass(frozen=True)
class KubeInstall:
    """Where the Kubernetes test tier's tools are; `build_seconds` is what this call built."""

    kubernetes_version: str
    helm_version: str
    etcd: Path
    kube_apiserver: Path
    kubectl: Path
    helm: Path
    crds: dict[str, Path]
    build_seconds: dict[str, float]


def go_binary() -> str:
    """The machine's Go toolchain, checked to be new enough for kube/go.mod."""
    go = shutil.which("go") or next(
        (p for p in ("/usr/local/go/bin/go", "/usr/lib/go/bin/go") if Path(p).is_file()), None
    )
    if go is None:
        raise DevStackError("no Go toolchain (go) on PATH: kube-apiserver and helm are built")
    out = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, check=False)
    found = re.match(r"go(\d+)\.(\d+)", out.stdout.strip())
    if found is None or (int(found.group(1)), int(found.group(2))) < GO_MIN_VERSION:
        need = ".".join(map(str, GO_MIN_VERSION))
        raise DevStackError(f"{go} is {out.stdout.strip() or 'unknown'}; go{need}+ is needed")
    return go


def go_env(*, in_module: bool) -> dict[str, str]:
    """The environment of every Go command here: our caches, no toolchain downloads, no cgo."""
    root = go_cache_root()
    env = {
        **os.environ,
        "GOPATH": str(root),
        "GOMODCACHE": str(root / "mod"),
        "GOCACHE": str(root / "build"),
        "GOTOOLCHAIN": "local",
        "CGO_ENABLED": "0",
        # readonly: the committed go.sum is the pin; a build must never rewrite it.
        "GOFLAGS": "-mod=readonly -buildvcs=false" if in_module else "-buildvcs=false",
    }
    env.pop("GOBIN", None)
    return env


def _fingerprint(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


def _complete(home: Path, fingerprint: str, files: Sequence[str]) -> bool:
    marker = home / MARKER_NAME
    return (
        marker.is_file()
        and marker.read_text().strip() == fingerprint
        and all((home / name).is_file() for name in files)
    )


def _build_into(
    home: Path, fingerprint: str, files: Sequence[str], build: Callable[[Path], None]
) -> None:
    """Run `build(staging_dir)`, then swap the staging dir in as `home` with its marker."""
    home.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{home.name}.", dir=home.parent))
    staging.chmod(0o755)  # mkdtemp's 0700 would hide the tools from other users
    try:
        build(staging)
        absent = [name for name in files if not (staging / name).is_file()]
        if absent:
            raise DevStackError(f"the build of {home.name} produced no {', '.join(absent)}")
        (staging / MARKER_NAME).write_text(fingerprint + "\n")
        if home.exists():
            shutil.rmtree(home)
        staging.rename(home)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _version_ldflags(packages: Sequence[str], values: dict[str, str]) -> list[str]:
    return [f"-X {pkg}.{name}={value}" for pkg in packages for name, value in values.items()]


def ensure_kube_binaries() -> tuple[Path, float]:
    """kube-apiserver and kubectl from kube/go.mod, into `<cache>/kube-v<version>/bin` (once)."""
    module = kube_module_dir()
    version = kubernetes_version()
    home = cache_root() / f"kube-v{version}"
    files = ["bin/kube-apiserver", "bin/kubectl"]
    fingerprint = _fingerprint((module / "go.mod").read_bytes(), (module / "go.sum").read_bytes())
    if _complete(home, fingerprint, files):
        return home / "bin", 0.0
    go = go_binary()
    with _file_lock(cache_root() / f"kube-v{version}.lock"):
        if _complete(home, fingerprint, files):
            return home / "bin", 0.0
        major, minor = version.split(".")[:2]
        # What Kubernetes' own build stamps in (hack/lib/version.sh): without it the binaries
        # say v0.0.0-master, and helm's kubeVersion checks would refuse every chart.
        ldflags = [
            "-s",
            "-w",
            *_version_ldflags(
                ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"),
                {
                    "gitVersion": f"v{version}",
                    "gitMajor": major,
                    "gitMinor": minor,
                    "gitTreeState": "clean",
                    "buildDate": "1970-01-01T00:00:00Z",
                },
            ),
        ]
        started = time.monotonic()

        def build(staging: Path) -> None:
            (staging / "bin").mkdir()
            _run(
                [
                    go,
                    "build",
                    "-trimpath",
                    f"-ldflags={' '.join(ldflags)}",
                    "-o",
                    f"{staging / 'bin'}/",
                    "k8s.io/kubernetes/cmd/kube-apiserver",
                    "k8s.io/kubernetes/cmd/kubectl",
                ],
                what=f"go build of kube-apiserver and kubectl {version} (cold: ~30 min on 2 cores)",
                env=go_env(in_module=True),
                cwd=module,
            )

        _build_into(home, fingerprint, files, build)
        took = time.monotonic() - started
        log.info("kube-apiserver + kubectl %s built in %.0fs", version, took)
    return home / "bin", took


def ensure_helm(version: str = HELM_VERSION) -> tuple[Path, float]:
    """helm v3 from its Go module (its own go.sum pins its dependencies), once."""
    home = cache_root() / f"helm-v{version}"
    files = ["bin/helm"]
    if _complete(home, version, files):
        return home / "bin" / "helm", 0.0
    go = go_binary()
    with _file_lock(cache_root() / f"helm-v{version}.lock"):
        if _complete(home, version, files):
            return home / "bin" / "helm", 0.0
        k8s_minor = kubernetes_version().split(".")[1]
        ldflags = [
            "-s",
            "-w",
            f"-X helm.sh/helm/v3/internal/version.version=v{version}",
            "-X helm.sh/helm/v3/internal/version.gitTreeState=clean",
            # helm's default capabilities (`helm template`, lint): the Kubernetes we build.
            *_version_ldflags(
                ("helm.sh/helm/v3/pkg/lint/rules", "helm.sh/helm/v3/pkg/chartutil"),
                {"k8sVersionMajor": "1", "k8sVersionMinor": k8s_minor},
            ),
        ]
        started = time.monotonic()

        def build(staging: Path) -> None:
            _run(
                [
                    go,
                    "install",
                    "-trimpath",
                    f"-ldflags={' '.join(ldflags)}",
                    f"helm.sh/helm/v3/cmd/helm@v{version}",
                ],
                what=f"go install of helm {version} (cold: ~15 min on 2 cores)",
                env={**go_env(in_module=False), "GOBIN": str(staging / "bin")},
                cwd=cache_root(),
            )

        _build_into(home, version, files, build)
        took = time.monotonic() - started
        log.info("helm %s built in %.0fs", version, took)
    return home / "bin" / "helm", took


def ensure_crds() -> dict[str, Path]:
    """The pinned CRD YAMLs (prometheus-operator, cert-manager), copied out of their Go modules.

    Returns CRD name (`servicemonitors.monitoring.coreos.com`) -> file.
    """
    sources: dict[tuple[str, str], list[str]] = {}
    for module, version, inner in CRD_SOURCES.values():
        sources.setdefault((module, version), []).append(inner)
    result: dict[str, Path] = {}
    for (module, version), inners in sources.items():
        home = cache_root() / "crds" / f"{module.rsplit('/', 1)[-1]}-v{version}"
        files = sorted(Path(inner).name for inner in inners)
        fingerprint = _fingerprint(module.encode(), version.encode(), *(f.encode() for f in files))
        if not _complete(home, fingerprint, files):
            with _file_lock(cache_root() / "crds.lock"):
                if not _complete(home, fingerprint, files):
                    _build_into(home, fingerprint, files, _crd_copier(module, version, inners))
        for name, (mod, ver, inner) in CRD_SOURCES.items():
            if (mod, ver) == (module, version):
                result[name] = home / Path(inner).name
    return result


def _crd_copier(module: str, version: str, inners: Sequence[str]) -> Callable[[Path], None]:
    def copy(staging: Path) -> None:
        argv = [go_binary(), "mod", "download", "-json", f"{module}@v{version}"]
        log.info("go mod download: %s", " ".join(argv))
        proc = subprocess.run(
            argv,
            env=go_env(in_module=False),
            cwd=cache_root(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        try:
            info = json.loads(proc.stdout)
        except json.JSONDecodeError:
            info = {}
        if proc.returncode != 0 or "Dir" not in info:
            detail = info.get("Error") or proc.stderr.strip()[-2000:]
            raise DevStackError(f"go mod download {module}@v{version} failed: {detail}")
        for inner in inners:
            source = Path(info["Dir"]) / inner
            if not source.is_file():
                raise DevStackError(f"{module}@v{version} has no {inner}")
            shutil.copyfile(source, staging / source.name)

    return copy


def install_kube() -> KubeInstall:
    """etcd (Debian), kube-apiserver + kubectl + helm (built once), and the pinned CRDs."""
    ensure_debian_packages(["etcd-server"])
    _, kube_took = ensure_kube_binaries()
    _, helm_took = ensure_helm()
    built = {name: s for name, s in (("kube", kube_took), ("helm", helm_took)) if s > 0}
    return kube_tools(build_seconds=built)


def kube_tools(build_seconds: dict[str, float] | None = None) -> KubeInstall:
    """Where install_kube() put the tools; installs nothing, fails clearly when one is absent."""
    version = kubernetes_version()
    bindir = cache_root() / f"kube-v{version}" / "bin"
    helm = cache_root() / f"helm-v{HELM_VERSION}" / "bin" / "helm"
    etcd = shutil.which("etcd")
    tools = (bindir / "kube-apiserver", bindir / "kubectl", helm)
    absent = [str(p) for p in tools if not p.is_file()]
    if etcd is None:
        absent.append("etcd (Debian etcd-server)")
    if absent:
        raise DevStackError(
            f"kube tools missing: {', '.join(absent)}; run `python -m trademesh_devstack install`"
        )
    return KubeInstall(
        kubernetes_version=version,
        helm_version=HELM_VERSION,
        etcd=Path(etcd),
        kube_apiserver=bindir / "kube-apiserver",
        kubectl=bindir / "kubectl",
        helm=helm,
        crds=ensure_crds(),
        build_seconds=build_seconds or {},
    )
