"""The Helm charts under charts/, for the Kubernetes API test tier: packaging their file://
dependencies, rendering them, and reading what was rendered the way the cluster would: which
pods a Service selects, what a NetworkPolicy admits, whether a pod meets Pod Security
"restricted".
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import subprocess
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from trademesh_devstack._proc import DevStackError

Obj = dict[str, Any]
Labels = Mapping[str, str]

REPO_ROOT = Path(__file__).resolve().parents[4]
CHARTS_DIR = REPO_ROOT / "charts"
UMBRELLA = CHARTS_DIR / "trademesh"
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")
# A render function: (values files, --set items, release, namespace) -> objects.
Render = Callable[..., list[Obj]]


def ci_values_files() -> list[Path]:
    """The values files the umbrella is tested with (charts/trademesh/ci/)."""
    return sorted((UMBRELLA / "ci").glob("*-values.yaml"))


def ci_values(name: str) -> Path:
    return UMBRELLA / "ci" / f"{name}-values.yaml"


def helm_env(helm: Path) -> dict[str, str]:
    """A private helm home under .devstack/ (never ~/.cache/helm), and HELM for the scripts."""
    home = REPO_ROOT / ".devstack" / "helm"
    return {
        **os.environ,
        "HELM": str(helm),
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }


def _helm(helm: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(helm), *args],
        env=helm_env(helm),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def service_charts() -> list[Path]:
    """The charts built on the common library's service template."""
    return sorted(
        chart.parent.parent
        for chart in CHARTS_DIR.glob("*/templates/all.yaml")
        if "common.serviceChart" in chart.read_text()
    )


def chart_crds() -> list[Path]:
    """The CRDs the charts ship in their crds/ folders (helm installs those before any
    template, and `helm template` leaves them out)."""
    return sorted(CHARTS_DIR.glob("*/crds/*.yaml"))


def build_dependencies(helm: Path) -> None:
    """Package file:// dependencies into each chart, the way scripts/chart-deps does."""
    proc = subprocess.run(
        [str(REPO_ROOT / "scripts" / "chart-deps")],
        env=helm_env(helm),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        raise DevStackError(f"scripts/chart-deps failed: {proc.stderr.strip()}")


def template(helm: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`helm template trademesh charts/trademesh ARGS`, as it comes (for refusals)."""
    return _helm(helm, "template", "trademesh", str(UMBRELLA), *args)


def render(
    helm: Path,
    chart: Path = UMBRELLA,
    *,
    release: str = "trademesh",
    namespace: str = "trademesh",
    values: Sequence[Path] = (),
    sets: Sequence[str] = (),
) -> list[Obj]:
    """`helm template`: every object the chart renders, hooks included."""
    argv = ["template", release, str(chart), "--namespace", namespace]
    for path in values:
        argv += ["--values", str(path)]
    for item in sets:
        argv += ["--set", item]
    proc = _helm(helm, *argv)
    if proc.returncode != 0:
        raise DevStackError(f"helm template failed: {proc.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def helm_lint(
    helm: Path, chart: Path, values: Path | None = None
) -> subprocess.CompletedProcess[str]:
    argv = ["lint", "--strict", str(chart)]
    if values is not None:
        argv += ["--values", str(values)]
    return _helm(helm, *argv)


# --------------------------------------------------------------------------- reading objects


def of_kind(objects: Iterable[Obj], kind: str) -> list[Obj]:
    return [o for o in objects if o["kind"] == kind]


def named(objects: Iterable[Obj], kind: str, name: str) -> Obj:
    for o in objects:
        if o["kind"] == kind and o["metadata"]["name"] == name:
            return o
    raise KeyError(f"no {kind} {name}")


@dataclass(frozen=True)
class PodTemplate:
    """The pods a workload makes: who they are (labels) and what they run (spec)."""

    workload: str
    kind: str
    namespace: str
    labels: Labels
    spec: Obj

    @property
    def app(self) -> str:
        return self.labels.get("app.kubernetes.io/name", self.workload)

    def container_port(self, name: str) -> int | None:
        for container in self.spec.get("containers", []):
            for port in container.get("ports", []):
                if port.get("name") == name:
                    return int(port["containerPort"])
        return None

    def as_pod(self) -> Obj:
        """A Pod with this template, for admission (volume claim templates become claims)."""
        spec = json.loads(json.dumps(self.spec))
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"{self.workload}-pod"[:63],
                "namespace": self.namespace,
                "labels": dict(self.labels),
            },
            "spec": spec,
        }


def pod_templates(objects: Iterable[Obj]) -> list[PodTemplate]:
    templates = []
    for o in objects:
        if o["kind"] not in WORKLOAD_KINDS:
            continue
        template = o["spec"]["template"]
        spec = dict(template["spec"])
        for claim in o["spec"].get("volumeClaimTemplates", []):
            volume = {
                "name": claim["metadata"]["name"],
                "persistentVolumeClaim": {"claimName": claim["metadata"]["name"]},
            }
            spec["volumes"] = [*spec.get("volumes", []), volume]
        templates.append(
            PodTemplate(
                workload=o["metadata"]["name"],
                kind=o["kind"],
                namespace=o["metadata"].get("namespace", "default"),
                labels=template["metadata"].get("labels", {}),
                spec=spec,
            )
        )
    return templates


def secret_values(objects: Iterable[Obj]) -> set[str]:
    """Every value held in a rendered Secret."""
    found: set[str] = set()
    for secret in of_kind(objects, "Secret"):
        for value in (secret.get("data") or {}).values():
            found.add(base64.b64decode(value).decode())
        found.update((secret.get("stringData") or {}).values())
    return found


# --------------------------------------------------------------------------- label selectors


def selects(selector: Mapping[str, Any] | None, labels: Labels) -> bool:
    """A LabelSelector (matchLabels and matchExpressions); an empty one selects everything."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values") or []
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def service_selects(service: Obj, pod: PodTemplate) -> bool:
    selector = service["spec"].get("selector")
    return (
        bool(selector)
        and pod.namespace == service["metadata"].get("namespace", pod.namespace)
        and all(pod.labels.get(k) == v for k, v in selector.items())
    )


# --------------------------------------------------------------------------- NetworkPolicy


@dataclass(frozen=True)
class Endpoint:
    """One end of a connection: a pod (labels, its namespace's labels) or an outside address."""

    name: str
    namespace: str = ""
    labels: Labels = field(default_factory=dict)
    namespace_labels: Labels = field(default_factory=dict)
    ip: str | None = None
    pod: PodTemplate | None = None

    @classmethod
    def of(cls, pod: PodTemplate) -> Endpoint:
        return cls(
            name=pod.app,
            namespace=pod.namespace,
            labels=pod.labels,
            namespace_labels={"kubernetes.io/metadata.name": pod.namespace},
            pod=pod,
        )

    @property
    def is_pod(self) -> bool:
        return self.ip is None


def _peer_matches(peer: Obj, policy_namespace: str, endpoint: Endpoint) -> bool:
    if "ipBlock" in peer:
        if endpoint.is_pod:
            return False
        address = ipaddress.ip_address(endpoint.ip or "")
        block = peer["ipBlock"]
        inside = address in ipaddress.ip_network(block["cidr"])
        excepted = any(address in ipaddress.ip_network(c) for c in block.get("except", []))
        return inside and not excepted
    if not endpoint.is_pod:
        return False
    if "namespaceSelector" in peer:
        if not selects(peer["namespaceSelector"], endpoint.namespace_labels):
            return False
    elif endpoint.namespace != policy_namespace:
        return False
    return "podSelector" not in peer or selects(peer["podSelector"], endpoint.labels)


def _port_matches(rule_ports: list[Obj] | None, port: int, destination: Endpoint) -> bool:
    if not rule_ports:
        return True
    for entry in rule_ports:
        if entry.get("protocol", "TCP") != "TCP":
            continue
        wanted = entry.get("port")
        if wanted is None:
            return True
        if isinstance(wanted, str):
            resolved = destination.pod.container_port(wanted) if destination.pod else None
            if resolved == port:
                return True
        elif wanted <= port <= entry.get("endPort", wanted):
            return True
    return False


def _policy_types(policy: Obj) -> list[str]:
    spec = policy["spec"]
    return spec.get("policyTypes") or (["Ingress", "Egress"] if "egress" in spec else ["Ingress"])


def _allowed(
    policies: Iterable[Obj], direction: str, subject: Endpoint, other: Endpoint, port: int
) -> bool:
    """Whether `subject` (the pod the policies select) accepts `direction` traffic with `other`."""
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    destination = subject if direction == "Ingress" else other
    isolating = [
        p
        for p in policies
        if p["metadata"].get("namespace", subject.namespace) == subject.namespace
        and selects(p["spec"].get("podSelector"), subject.labels)
        and direction in _policy_types(p)
    ]
    if not isolating:
        return True
    for policy in isolating:
        namespace = policy["metadata"].get("namespace", subject.namespace)
        for rule in policy["spec"].get(key) or []:
            peers = rule.get(peers_key)
            if peers and not any(_peer_matches(peer, namespace, other) for peer in peers):
                continue
            if _port_matches(rule.get("ports"), port, destination):
                return True
    return False


def ingress_allowed(
    policies: Sequence[Obj], destination: Endpoint, source: Endpoint, port: int
) -> bool:
    """Whether the destination pod's policies alone admit source -> destination:port."""
    return _allowed(policies, "Ingress", destination, source, port)


def connection_allowed(
    policies: Sequence[Obj], source: Endpoint, destination: Endpoint, port: int
) -> bool:
    """TCP from source to destination:port: allowed by the source's egress (if it is a pod)
    and by the destination's ingress (if it is a pod)."""
    egress_ok = not source.is_pod or _allowed(policies, "Egress", source, destination, port)
    ingress_ok = not destination.is_pod or _allowed(policies, "Ingress", destination, source, port)
    return egress_ok and ingress_ok


# --------------------------------------------------------------------------- Pod Security


_RESTRICTED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def restricted_violations(pod: PodTemplate) -> Iterator[str]:
    """What keeps a pod from Pod Security "restricted" (plus our read-only root filesystem):
    a readable list for a failing assertion; the API server's admission is the real check."""
    spec = pod.spec
    pod_context = spec.get("securityContext") or {}
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(flag):
            yield f"{flag} is set"
    for volume in spec.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= _RESTRICTED_VOLUMES:
            yield f"volume {volume['name']} is of type {sorted(kinds)}"
    for container in [*spec.get("initContainers", []), *spec.get("containers", [])]:
        name = container["name"]
        context = container.get("securityContext") or {}
        if context.get("privileged"):
            yield f"{name}: privileged"
        if context.get("allowPrivilegeEscalation") is not False:
            yield f"{name}: allowPrivilegeEscalation is not false"
        capabilities = context.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            yield f"{name}: capabilities do not drop ALL"
        if set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}:
            yield f"{name}: adds capabilities {capabilities['add']}"
        if not context.get("runAsNonRoot", pod_context.get("runAsNonRoot")):
            yield f"{name}: runAsNonRoot is not true"
        if context.get("runAsUser", pod_context.get("runAsUser")) == 0:
            yield f"{name}: runs as user 0"
        seccomp = (context.get("seccompProfile") or pod_context.get("seccompProfile") or {}).get(
            "type"
        )
        if seccomp not in ("RuntimeDefault", "Localhost"):
            yield f"{name}: seccomp profile is {seccomp}"
        if not context.get("readOnlyRootFilesystem"):
            yield f"{name}: root filesystem is writable"
        for port in container.get("ports", []):
            if port.get("hostPort"):
                yield f"{name}: hostPort {port['hostPort']}"


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())
