"""A real kube-apiserver + etcd on loopback, for tests that assert on Kubernetes API objects.

    with KubeApiServer() as kube:
        kube.install_crds()  # ServiceMonitor, PrometheusRule, cert-manager Certificate, ...
        kube.kubectl("create", "namespace", "demo")
        kube.helm("install", "demo", "charts/x", "--namespace", "demo")
        env = kube.env()  # KUBECONFIG (+ the kubectl/helm paths and helm's own dirs)

Only the API server runs: no controller-manager, scheduler or kubelet. So everything the API
server itself does is real (validation, defaulting, admission including Pod Security, RBAC,
CRD schemas, server-side apply), but nothing reconciles: a Deployment never gets a ReplicaSet
or pods, a Service gets no endpoints, a deleted namespace stays Terminating (its finalizer is
the controller-manager's job). Tests assert on the API objects, and use fresh namespaces.

Each start is a new cluster: new key material, and etcd keeps its data in memory (/dev/shm
when there is one), which also spares it the WAL fsyncs that make etcd slow on a busy disk.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from ._proc import (
    DevStackError,
    ManagedProcess,
    free_port,
    start_with_port_retry,
    wait_for,
)
from .install import KubeInstall, install_kube, kube_tools
from .kube_pki import KubePki, generate_pki

ENV_KUBECONFIG = "KUBECONFIG"
ENV_KUBECTL = "TRADEMESH_KUBECTL"
ENV_HELM = "TRADEMESH_HELM"
ENV_CRD_FILES = "TRADEMESH_KUBE_CRDS"
SERVICE_CIDR = "10.96.0.0/16"
SERVICE_IP = "10.96.0.1"  # the `kubernetes` Service: the first address of SERVICE_CIDR
START_TIMEOUT_S = 180.0
COMMAND_TIMEOUT_S = 300.0
# Without a controller-manager no ServiceAccount ever exists, so the ServiceAccount admission
# plugin would refuse every pod; everything else stays at the upstream defaults (which include
# NamespaceLifecycle and PodSecurity), named here so a changed default cannot drop them.
ADMISSION_ENABLED = ("NamespaceLifecycle", "LimitRanger", "PodSecurity", "ResourceQuota")
ADMISSION_DISABLED = ("ServiceAccount",)


class KubeClient:
    """kubectl and helm against one cluster, given its kubeconfig and the two binaries."""

    def __init__(
        self,
        kubeconfig: Path,
        *,
        kubectl: Path,
        helm: Path,
        tool_dir: Path,
        crds: Mapping[str, Path] | None = None,
    ) -> None:
        self.kubeconfig = kubeconfig
        self.kubectl_path = kubectl
        self.helm_path = helm
        self.tool_dir = tool_dir
        self.crds: dict[str, Path] = dict(crds or {})

    def env(self) -> dict[str, str]:
        """KUBECONFIG, the tool paths, and private helm/kubectl cache dirs (never ~/.kube)."""
        env = {
            ENV_KUBECONFIG: str(self.kubeconfig),
            ENV_KUBECTL: str(self.kubectl_path),
            ENV_HELM: str(self.helm_path),
            "KUBECACHEDIR": str(self.tool_dir / "kube-cache"),
            "HELM_CACHE_HOME": str(self.tool_dir / "helm" / "cache"),
            "HELM_CONFIG_HOME": str(self.tool_dir / "helm" / "config"),
            "HELM_DATA_HOME": str(self.tool_dir / "helm" / "data"),
        }
        if self.crds:
            env[ENV_CRD_FILES] = os.pathsep.join(str(p) for p in self.crds.values())
        return env

    def run(
        self,
        argv: Sequence[str | os.PathLike[str]],
        *,
        input: str | None = None,
        check: bool = True,
        timeout: float = COMMAND_TIMEOUT_S,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command with this cluster's env; raise DevStackError on failure if `check`."""
        argv = [str(a) for a in argv]
        proc = subprocess.run(
            argv,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env={**os.environ, **self.env()},
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise DevStackError(
                f"{' '.join(argv)} failed (exit {proc.returncode}):\n"
                f"{proc.stderr.strip() or proc.stdout.strip()}"
            )
        return proc

    def kubectl(
        self, *args: str | os.PathLike[str], input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """`kubectl ARGS` against this cluster."""
        return self.run([self.kubectl_path, *args], input=input, check=check)

    def helm(
        self, *args: str | os.PathLike[str], input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """`helm ARGS` against this cluster."""
        return self.run([self.helm_path, *args], input=input, check=check)

    def apply(
        self, *objects: Mapping[str, Any], check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Server-side apply of the given objects (a List of them, as JSON on stdin)."""
        doc = {"apiVersion": "v1", "kind": "List", "items": list(objects)}
        return self.kubectl(
            "apply",
            "--server-side",
            "--field-manager=trademesh-tests",
            "-f",
            "-",
            input=json.dumps(doc),
            check=check,
        )

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        """One object as a dict (`kind` as kubectl spells it: `deployment`, `servicemonitors`)."""
        args = ["get", kind, name, "-o", "json"]
        if namespace is not None:
            args += ["--namespace", namespace]
        doc: dict[str, Any] = json.loads(self.kubectl(*args).stdout)
        return doc

    def install_crds(self, names: Iterable[str] | None = None) -> list[str]:
        """Apply the pinned CRDs (all of them, or these names) and wait until each is served.

        Names are CRD names like `servicemonitors.monitoring.coreos.com`; see `self.crds`.
        Idempotent. Server-side apply, because some CRDs are too big for the client-side
        last-applied annotation.
        """
        wanted = list(self.crds) if names is None else list(names)
        unknown = sorted(set(wanted) - set(self.crds))
        if unknown:
            raise DevStackError(f"no pinned CRD named {unknown}; known: {sorted(self.crds)}")
        if not wanted:
            return []
        files: list[str] = []
        for name in wanted:
            files += ["-f", str(self.crds[name])]
        self.kubectl("apply", "--server-side", "--force-conflicts", *files)
        self.kubectl(
            "wait",
            "--for=condition=Established",
            "--timeout=120s",
            *(f"customresourcedefinition/{name}" for name in wanted),
        )
        return wanted


class KubeApiServer(KubeClient):
    """etcd + kube-apiserver on free 127.0.0.1 ports, with an admin kubeconfig.

    `state_dir` holds the key material, the kubeconfig, the logs and the tools' caches; with
    None a temp dir is used and deleted on stop(). The admin kubeconfig goes to `kubeconfig`
    (default `<state_dir>/kubeconfig`).
    """

    def __init__(
        self,
        state_dir: Path | None = None,
        *,
        kubeconfig: Path | None = None,
        install: bool = True,
    ) -> None:
        self._owns_dir = state_dir is None
        if state_dir is None:
            state_dir = Path(tempfile.mkdtemp(prefix="trademesh-kube."))
        self.state_dir = state_dir
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._install = install
        self.tools: KubeInstall | None = None
        self.etcd_port = 0
        self.etcd_peer_port = 0
        self.port = 0
        self._etcd: ManagedProcess | None = None
        self._apiserver: ManagedProcess | None = None
        self._etcd_data: Path | None = None
        self.pki = KubePki(self.state_dir / "pki")
        super().__init__(
            kubeconfig or self.state_dir / "kubeconfig",
            kubectl=Path("kubectl"),
            helm=Path("helm"),
            tool_dir=self.state_dir,
        )

    # ----------------------------------------------------------------- properties
    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def etcd_log(self) -> Path:
        return self.state_dir / "logs" / "etcd.log"

    @property
    def apiserver_log(self) -> Path:
        return self.state_dir / "logs" / "kube-apiserver.log"

    def running(self) -> bool:
        return all(p is not None and p.alive() for p in (self._etcd, self._apiserver))

    # ----------------------------------------------------------------- lifecycle
    def __enter__(self) -> KubeApiServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Install (unless told not to), then start etcd and the apiserver; wait until ready."""
        tools = install_kube() if self._install else kube_tools()
        self.tools = tools
        self.kubectl_path, self.helm_path, self.crds = tools.kubectl, tools.helm, tools.crds
        generate_pki(self.pki.directory, SERVICE_IP)
        try:
            start_with_port_retry(self._start_once, self._pick_ports)
        except BaseException:
            self.stop()
            raise

    def _pick_ports(self) -> None:
        self.etcd_port, self.etcd_peer_port, self.port = free_port(), free_port(), free_port()

    def _start_once(self) -> None:
        assert self.tools is not None
        if not self.port:
            self._pick_ports()
        self._stop_processes()
        self._etcd_data = Path(tempfile.mkdtemp(prefix="trademesh-etcd.", dir=_memory_dir()))
        etcd_url = f"http://127.0.0.1:{self.etcd_port}"
        peer_url = f"http://127.0.0.1:{self.etcd_peer_port}"
        self._etcd = ManagedProcess(
            "etcd",
            [
                str(self.tools.etcd),
                "--name=trademesh",
                f"--data-dir={self._etcd_data}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=trademesh={peer_url}",
                "--logger=zap",
                "--log-outputs=stderr",
                "--log-level=warn",
            ],
            log_path=self.etcd_log,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        )
        self._etcd.start()
        wait_for(
            "etcd",
            lambda: _etcd_healthy(etcd_url),
            timeout=60,
            proc=self._etcd,
            logs=[self.etcd_log],
        )
        self._apiserver = ManagedProcess(
            "kube-apiserver",
            [str(self.tools.kube_apiserver), *self._apiserver_flags(etcd_url)],
            log_path=self.apiserver_log,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        )
        self._apiserver.start()
        context = self._client_ssl_context()
        wait_for(
            "kube-apiserver",
            lambda: _get(f"{self.url}/readyz", context) == 200,
            timeout=START_TIMEOUT_S,
            proc=self._apiserver,
            logs=[self.apiserver_log],
            interval=0.25,
        )
        self._write_kubeconfig()

    def _apiserver_flags(self, etcd_url: str) -> list[str]:
        pki = self.pki
        return [
            f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self.port}",
            f"--cert-dir={pki.directory}",
            f"--tls-cert-file={pki.serving_cert}",
            f"--tls-private-key-file={pki.serving_key}",
            f"--client-ca-file={pki.ca_cert}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki.service_account_pub}",
            f"--service-account-signing-key-file={pki.service_account_key}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--authorization-mode=RBAC",
            # Pod Security admission, not this flag, is what refuses privileged pods here.
            "--allow-privileged=true",
            f"--enable-admission-plugins={','.join(ADMISSION_ENABLED)}",
            f"--disable-admission-plugins={','.join(ADMISSION_DISABLED)}",
            "--profiling=false",
        ]

    def _client_ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.pki.ca_cert))
        context.load_cert_chain(str(self.pki.admin_cert), str(self.pki.admin_key))
        return context

    def _write_kubeconfig(self) -> None:
        """The admin kubeconfig, self-contained (certs inline), as JSON (valid YAML too)."""
        config = admin_kubeconfig(
            self.url,
            ca_pem=self.pki.ca_cert.read_text(),
            cert_pem=self.pki.admin_cert.read_text(),
            key_pem=self.pki.admin_key.read_text(),
        )
        self.kubeconfig.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.kubeconfig.with_name(self.kubeconfig.name + ".tmp")
        tmp.write_text(json.dumps(config, indent=2) + "\n")
        tmp.chmod(0o600)
        tmp.replace(self.kubeconfig)

    def _stop_processes(self) -> None:
        for proc in (self._apiserver, self._etcd):
            if proc is not None:
                proc.stop()
        self._apiserver = self._etcd = None
        if self._etcd_data is not None:
            shutil.rmtree(self._etcd_data, ignore_errors=True)
            self._etcd_data = None

    def stop(self) -> None:
        """Stop the apiserver, then etcd; drop etcd's data (and the state dir if it is ours)."""
        self._stop_processes()
        if self._owns_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)


def admin_kubeconfig(server: str, *, ca_pem: str, cert_pem: str, key_pem: str) -> dict[str, Any]:
    """A one-cluster, one-user kubeconfig with the PEMs inline."""

    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "trademesh-test",
                "cluster": {"server": server, "certificate-authority-data": b64(ca_pem)},
            }
        ],
        "users": [
            {
                "name": "trademesh-admin",
                "user": {
                    "client-certificate-data": b64(cert_pem),
                    "client-key-data": b64(key_pem),
                },
            }
        ],
        "contexts": [
            {
                "name": "trademesh-test",
                "context": {"cluster": "trademesh-test", "user": "trademesh-admin"},
            }
        ],
        "current-context": "trademesh-test",
        "preferences": {},
    }


class AttachedKube(KubeClient):
    """A cluster someone else runs (`kube-up --env-file`): same helpers; starts, stops nothing."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AttachedKube:
        missing = [k for k in (ENV_KUBECONFIG, ENV_KUBECTL, ENV_HELM) if not env.get(k)]
        if missing:
            raise DevStackError(f"kube env lacks {', '.join(missing)}")
        kubeconfig_path = Path(env[ENV_KUBECONFIG])
        crds = {}
        for path in filter(None, env.get(ENV_CRD_FILES, "").split(os.pathsep)):
            crds[_crd_name_of(Path(path))] = Path(path)
        return cls(
            kubeconfig_path,
            kubectl=Path(env[ENV_KUBECTL]),
            helm=Path(env[ENV_HELM]),
            tool_dir=Path(env.get("KUBECACHEDIR", kubeconfig_path.parent / "kube-cache")).parent,
            crds=crds,
        )

    @classmethod
    def from_env_file(cls, path: Path) -> AttachedKube:
        try:
            env = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise DevStackError(f"cannot read the kube env file {path}: {exc}") from exc
        return cls.from_env(env)


def _crd_name_of(path: Path) -> str:
    """`monitoring.coreos.com_servicemonitors.yaml` -> `servicemonitors.monitoring.coreos.com`."""
    group, _, plural = path.stem.partition("_")
    return f"{plural}.{group}"


def _memory_dir() -> str | None:
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def _etcd_healthy(url: str) -> bool:
    with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
        return bool(json.loads(resp.read()).get("health") == "true")


def _get(url: str, context: ssl.SSLContext) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5, context=context) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:  # 500 while post-start hooks are still running
        return exc.code
