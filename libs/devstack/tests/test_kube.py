"""The kube tier is real: kube-apiserver validates, admits, serves CRDs, and helm installs into it.

Only the API server runs (no controllers), so these tests assert on API objects.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from trademesh_devstack import DevStackError
from trademesh_devstack.install import HELM_VERSION, kubernetes_version
from trademesh_devstack.kube import AttachedKube, KubeClient

pytestmark = pytest.mark.kube


def _namespace(kube: KubeClient, labels: dict[str, str] | None = None) -> str:
    name = f"t-{uuid.uuid4().hex[:10]}"
    metadata = {"name": name, "labels": labels or {}}
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": metadata})
    return name


def _deployment(name: str, namespace: str, selector: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "trademesh/order:dev"}]},
            },
        },
    }


def test_apiserver_answers_with_the_pinned_version(kube_api: KubeClient) -> None:
    assert kube_api.kubectl("get", "--raw", "/readyz").stdout == "ok"
    versions = json.loads(kube_api.kubectl("version", "-o", "json").stdout)
    assert versions["serverVersion"]["gitVersion"] == f"v{kubernetes_version()}"
    assert versions["clientVersion"]["gitVersion"] == f"v{kubernetes_version()}"
    namespaces = kube_api.kubectl("get", "namespaces", "-o", "name").stdout.split()
    assert {"namespace/default", "namespace/kube-system"} <= set(namespaces)


def test_namespace_and_deployment_are_stored_with_server_defaults(kube_api: KubeClient) -> None:
    ns = _namespace(kube_api)
    kube_api.apply(_deployment("order", ns, {"app": "order"}))

    stored = kube_api.get("deployment", "order", ns)
    assert stored["metadata"]["uid"]
    assert stored["spec"]["replicas"] == 2
    # Filled in by the API server's defaulting, so this went through the real apps/v1 code.
    assert stored["spec"]["strategy"]["type"] == "RollingUpdate"
    assert stored["spec"]["revisionHistoryLimit"] == 10
    assert stored["spec"]["template"]["spec"]["restartPolicy"] == "Always"


def test_invalid_object_is_refused_with_the_reason(kube_api: KubeClient) -> None:
    ns = _namespace(kube_api)
    refused = kube_api.apply(_deployment("broken", ns, {"app": "other"}), check=False)
    assert refused.returncode != 0
    assert 'The Deployment "broken" is invalid' in refused.stderr
    assert "`selector` does not match template `labels`" in refused.stderr
    absent = kube_api.kubectl("get", "deployment", "broken", "-n", ns, check=False)
    assert absent.returncode != 0
    assert "NotFound" in absent.stderr


def test_crds_install_and_a_servicemonitor_is_validated_by_its_schema(
    kube_api: KubeClient,
) -> None:
    installed = kube_api.install_crds()
    assert {
        "servicemonitors.monitoring.coreos.com",
        "prometheusrules.monitoring.coreos.com",
        "certificates.cert-manager.io",
        "issuers.cert-manager.io",
        "clusterissuers.cert-manager.io",
    } <= set(installed)
    assert kube_api.install_crds(["servicemonitors.monitoring.coreos.com"])  # idempotent
    ns = _namespace(kube_api)
    monitor = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "order", "namespace": ns},
        "spec": {
            "selector": {"matchLabels": {"app": "order"}},
            "endpoints": [{"port": "http", "path": "/metrics", "interval": "15s"}],
        },
    }
    kube_api.apply(monitor)
    stored = kube_api.get("servicemonitors.monitoring.coreos.com", "order", ns)
    assert stored["spec"]["endpoints"][0]["path"] == "/metrics"

    wrong = {**monitor, "metadata": {"name": "wrong", "namespace": ns}}
    wrong["spec"] = {**monitor["spec"], "endpoints": "http"}
    refused = kube_api.apply(wrong, check=False)
    assert refused.returncode != 0
    assert "spec.endpoints" in refused.stderr


def test_restricted_pod_security_refuses_a_privileged_pod(kube_api: KubeClient) -> None:
    ns = _namespace(kube_api, {"pod-security.kubernetes.io/enforce": "restricted"})

    def pod(name: str, security: dict[str, Any]) -> dict[str, Any]:
        container = {"name": "app", "image": "trademesh/order:dev", "securityContext": security}
        pod_security = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"securityContext": pod_security, "containers": [container]},
        }

    refused = kube_api.apply(pod("privileged", {"privileged": True}), check=False)
    assert refused.returncode != 0
    assert 'violates PodSecurity "restricted:latest"' in refused.stderr
    assert "privileged" in refused.stderr

    compliant = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    kube_api.apply(pod("compliant", compliant))
    assert kube_api.get("pod", "compliant", ns)["status"]["phase"] == "Pending"  # no kubelet


def test_helm_binary_runs(kube_api: KubeClient) -> None:
    assert kube_api.helm("version", "--short").stdout.startswith(f"v{HELM_VERSION}")


def test_helm_installs_a_chart_into_the_apiserver(kube_api: KubeClient, tmp_path: Path) -> None:
    chart = tmp_path / "hello"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(
        "apiVersion: v2\nname: hello\nversion: 0.1.0\nkubeVersion: '>=1.29.0-0'\n"
    )
    (chart / "values.yaml").write_text("greeting: hello\nreplicas: 1\n")
    (chart / "templates" / "configmap.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-config\n"
        "data:\n  greeting: {{ .Values.greeting | quote }}\n"
    )
    (chart / "templates" / "deployment.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n"
        "spec:\n  replicas: {{ .Values.replicas }}\n"
        "  selector:\n    matchLabels:\n      app: {{ .Release.Name }}\n"
        "  template:\n    metadata:\n      labels:\n        app: {{ .Release.Name }}\n"
        "    spec:\n      containers:\n        - name: app\n          image: trademesh/hello:dev\n"
    )
    ns = f"t-{uuid.uuid4().hex[:10]}"

    kube_api.helm(
        "install", "hi", chart, "--namespace", ns, "--create-namespace", "--set", "greeting=salut"
    )

    config = kube_api.get("configmap", "hi-config", ns)
    assert config["data"] == {"greeting": "salut"}
    assert kube_api.get("deployment", "hi", ns)["spec"]["replicas"] == 1
    releases = json.loads(kube_api.helm("list", "--namespace", ns, "-o", "json").stdout)
    assert [(r["name"], r["status"]) for r in releases] == [("hi", "deployed")]

    with pytest.raises(DevStackError, match="cannot re-use a name"):
        kube_api.helm("install", "hi", chart, "--namespace", ns)


def test_an_attached_client_reaches_the_same_cluster(kube_api: KubeClient, tmp_path: Path) -> None:
    ns = _namespace(kube_api)
    env_file = tmp_path / "kube.json"
    env_file.write_text(json.dumps(kube_api.env()))

    attached = AttachedKube.from_env_file(env_file)

    assert attached.get("namespace", ns)["metadata"]["name"] == ns
    assert set(attached.crds) == set(kube_api.crds)
